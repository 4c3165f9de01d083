"""Counter-based random numbers: every draw is a pure function of (seed, pattern id, stream, index).

``torch.Generator`` streams depend on how work is split: chunk sizes, worker counts, a resumed run
and the device all change which pattern gets which numbers. Hashing the draw's coordinates instead
gives every pattern the same random effects however it is computed, on CPU and CUDA alike, which is
what makes a resumed or sharded data set identical to an uninterrupted one.

The mixer is Wellons' "lowbias32" integer hash, evaluated in int64 with 32-bit masks. Products are
split into 16-bit halves so no intermediate overflows int64 (signed overflow is not something to
lean on across devices).
"""

from __future__ import annotations

import math

import torch

_M32 = 0xFFFFFFFF
_M16 = 0xFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x · c) mod 2³² for x in [0, 2³²) without int64 overflow."""
    lo = x * (c & _M16)
    hi = ((x * (c >> 16)) & _M16) << 16
    return (lo + hi) & _M32


def mix32(x: torch.Tensor) -> torch.Tensor:
    """Bijective 32-bit hash of int64 values in [0, 2³²) (lowbias32)."""
    x = x & _M32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def _key(seed: int, pattern_ids: torch.Tensor, stream: int) -> torch.Tensor:
    """``[P]`` int64 hash of (seed, pattern id, stream)."""
    seed_hash = int(mix32(torch.tensor([seed & _M32], dtype=torch.int64)).item())
    seed_hash ^= int(mix32(torch.tensor([((seed >> 32) & _M32) ^ 0x9E3779B9], dtype=torch.int64)).item())
    h = mix32(pattern_ids.to(torch.int64) & _M32 ^ seed_hash)
    h = mix32(h ^ ((pattern_ids.to(torch.int64) >> 32) & _M32) ^ 0x85EBCA6B)
    return mix32(h ^ ((stream * 0x27D4EB2F + 0x165667B1) & _M32))


def uniform(seed: int, pattern_ids: torch.Tensor, stream: int, n: int, dtype=torch.float32) -> torch.Tensor:
    """``[P, n]`` uniform numbers in (0, 1), reproducible per (seed, pattern id, stream, column).

    Args:
        seed: the run's seed.
        pattern_ids: ``[P]`` int64 global pattern ids (device of the result).
        stream: a small integer naming the quantity being drawn (one per effect).
        n: draws per pattern.
    """
    key = _key(seed, pattern_ids, stream)  # [P]
    cols = mix32(torch.arange(n, device=pattern_ids.device, dtype=torch.int64) * 0x61C88647 + 0x3C6EF372)  # [n]
    bits = mix32(key.unsqueeze(1) ^ cols.unsqueeze(0))  # [P, n] 32 random bits
    # top 24 bits (exact in float32), centred in their bin so 0 and 1 never occur
    return (((bits >> 8).to(torch.float64) + 0.5) / float(1 << 24)).to(dtype)


def normal(seed: int, pattern_ids: torch.Tensor, stream: int, n: int, dtype=torch.float32) -> torch.Tensor:
    """``[P, n]`` standard normal numbers by Box-Muller from two uniform streams.

    Each (u1, u2) pair gives two normals (the cosine and the sine branch), halving the hashing.
    """
    half = (n + 1) // 2
    u1 = uniform(seed, pattern_ids, 2 * stream + 1000, half, torch.float32)
    u2 = uniform(seed, pattern_ids, 2 * stream + 1001, half, torch.float32)
    radius = torch.sqrt(-2.0 * torch.log(u1))
    angle = 2.0 * math.pi * u2
    return torch.cat([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)[:, :n].to(dtype)


def normal_stable(seed: int, pattern_ids: torch.Tensor, stream: int, n: int, dtype=torch.float32) -> torch.Tensor:
    """``[P, n]`` standard normals whose column j does not depend on n (cosine branch only).

    ``normal`` pairs column j with column j + n/2, so its values move when n changes. Per-peak draws
    need this variant: a structure's peak count is padded to the largest in its batch, and a pattern
    must not change with the company it is rendered in.
    """
    u1 = uniform(seed, pattern_ids, 2 * stream + 1000, n, torch.float32)
    u2 = uniform(seed, pattern_ids, 2 * stream + 1001, n, torch.float32)
    return (torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)).to(dtype)
