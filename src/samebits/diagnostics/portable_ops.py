"""What was measured about which Keras layers and activations give the same bits on other
x86-64 CPUs under the ``portable`` profile: the knowledge ``samebits lint`` warns from.

Measured with ``samebits portability`` (:mod:`samebits.diagnostics.portability`), whose
end-to-end test checks that these tables agree with what it measures; docs/portability.md
has the full table.
"""

from __future__ import annotations

__all__ = ["NOT_PORTABLE_ACTIVATIONS", "NOT_PORTABLE_LAYERS"]

#: Keras layer classes whose results were measured NOT to be portable between x86-64 CPUs
#: under the ``portable`` profile, and why. Measured with ``samebits portability`` on
#: 2026-11-26: host AMD EPYC with AVX-512 (AVX512_CORE_BF16) against ``qemu-x86_64 -cpu
#: Haswell`` and ``-cpu EPYC-Milan`` (Debian qemu-user 1:7.2), TensorFlow 2.21.0, Keras 3.15.1;
#: the full table is in docs/portability.md. Each normalises with ``rsqrt`` (an approximate
#: instruction plus a Newton step, whose bits differ between CPU vendors; QEMU computes it
#: exactly), in the forward pass and again in the gradient.
NOT_PORTABLE_LAYERS: dict[str, str] = {
    "BatchNormalization": "normalises with rsqrt (training and inference: up to 1024 ULP in the output)",
    "LayerNormalization": "normalises with rsqrt (up to 384 ULP in output and gradients)",
    "GroupNormalization": "normalises with rsqrt (up to 1280 ULP in output and gradients)",
}

#: Activations measured NOT to be portable (same measurement): a layer that uses one, as
#: ``activation=...`` or in an ``Activation`` layer, is not portable either.
NOT_PORTABLE_ACTIVATIONS: dict[str, str] = {
    "gelu": "its erf form differs by up to 5 ULP in output and gradient",
}
