"""The template thread's channel-mixing product (``_mix``) gives tensordot's numbers.

``_mix`` replaced ``np.tensordot`` in the alias fit because, in the template thread,
tensordot on a strided slice of the alias spectra kept the stream thread from running for
up to a few hundred ms (a 2 ms sleep in another thread overshot by 218-364 ms; with
``_mix`` by about 1 ms). What it changes is only how the product is laid out; these tests
hold it to the same numbers, bit for bit, on the shapes and slices the fit uses.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.online.gradient import _mix


@pytest.mark.parametrize("sl", [slice(37, None), slice(0, 37), slice(None)])
def test_mix_is_tensordot_bit_for_bit_on_strided_slices(sl: slice) -> None:
    rng = np.random.default_rng(3)
    k, ch, nb = 8, 16, 401
    c = rng.standard_normal((k, ch, nb)) + 1j * rng.standard_normal((k, ch, nb))
    g = rng.standard_normal((k, k)) + 1j * rng.standard_normal((k, k))
    w, V = np.linalg.eigh(g @ g.conj().T + k * np.eye(k))
    for m in (V, V.conj().T, V.conj().T / w[:, None]):  # the three matrices the fit mixes with
        want = np.tensordot(m, c[..., sl], axes=(1, 0))
        got = _mix(m, c[..., sl])
        assert got.shape == want.shape
        assert got.dtype == want.dtype
        assert np.array_equal(got, want)
    # the nested product of the coefficients (V (V^H / w) ar) as the fit writes it
    inner = V.conj().T / w[:, None]
    want = np.tensordot(V, np.tensordot(inner, c[..., sl], axes=(1, 0)), axes=(1, 0))
    assert np.array_equal(_mix(V, _mix(inner, c[..., sl])), want)


def test_mix_takes_any_number_of_trailing_axes() -> None:
    rng = np.random.default_rng(4)
    m = rng.standard_normal((3, 5))
    for shape in [(5,), (5, 7), (5, 2, 3, 4)]:
        c = rng.standard_normal(shape)
        assert np.allclose(_mix(m, c), np.tensordot(m, c, axes=(1, 0)), rtol=0, atol=1e-12)
        assert _mix(m, c).shape == (3, *shape[1:])
