"""Batch operations (DESIGN.md section 3): multi-exponentiation, sound batch verification,
many witnesses at once, witness update and aggregation. The work is done in C (``_core``);
this module validates arguments, draws the verifier's random weights and names things.

>>> import edgeacc
>>> P = edgeacc.Params.rsa2048()
>>> acc = edgeacc.Accumulator(P, P.generator(b"doc"))
>>> xs = [edgeacc.hash_to_prime(b"%d" % i)[0] for i in range(4)]
>>> _ = acc.add_many(xs)
>>> ws = acc.all_witnesses()
>>> edgeacc.batch_verify(P, [(w, x, acc.value) for w, x in zip(ws, xs)])
[]
>>> edgeacc.batch_verify(P, [(ws[0], xs[0], acc.value), (ws[0], xs[1], acc.value)])
[1]
>>> edgeacc.batch_verify(P, [(0, xs[0], acc.value)])
Traceback (most recent call last):
...
edgeacc.errors.InvalidElement: witness 0 must satisfy 1 < y < N-1 and gcd(y, N) = 1
"""
from __future__ import annotations

import os
from typing import Iterable, Sequence

from edgeacc import _checks, _core
from edgeacc._checks import default_threads  # noqa: F401  (public: batch.default_threads)
from edgeacc.errors import EdgeaccError, EdgeaccTypeError, InvalidArgument
from edgeacc.params import Params

DEFAULT_SECURITY = _core.BATCH_SECURITY_BITS    # csrc/ea_protocol.h (the byte API uses it too)
MIN_SECURITY = 64
MAX_SECURITY = 1024

METHODS = {
    "auto": _core.MEXP_AUTO,
    "tables": _core.MEXP_TABLES,
    "window": _core.MEXP_WINDOW,
    "buckets": _core.MEXP_BUCKETS,
}

def multi_exp(params: Params, bases: Sequence[int], exponents: Sequence[int], *, method: str = "auto",
              param: int = 0, threads: int | None = 1) -> int:
    """prod bases[j]^exponents[j] mod N with one shared squaring chain.

    ``method``: "tables" (2^c subset-product tables for groups of c = ``param`` bases; the
    paper's Protocol 3 structure), "window" (interleaved sliding windows of ``param`` bits),
    "buckets" (Pippenger, ``param``-bit windows) or "auto" (a cost model picks by t and exponent
    size). ``param`` 0 lets the cost model choose. 0 <= base < N, exponents >= 0.

    >>> P = Params.rsa2048()
    >>> multi_exp(P, [3, 5], [7, 11]) == pow(3, 7, P.n) * pow(5, 11, P.n) % P.n
    True
    """
    P = _checks.params(params)
    if not isinstance(method, str) or method not in METHODS:
        raise InvalidArgument(f"method must be one of {sorted(METHODS)}")
    param = _checks.small_int(param, "param", 0, 255)
    bases, exponents = _checks.sequence(bases, "bases"), _checks.sequence(exponents, "exponents")
    return _core.multi_exp(bases, exponents, P.n, METHODS[method], param, _checks.threads(threads))


class MultiExpTable:
    """Precomputed 2^c subset-product tables for a fixed list of bases, reused by every
    evaluation (a verifier that checks many exponent vectors against the same bases).

    >>> P = Params.rsa2048()
    >>> T = MultiExpTable(P, [3, 5, 7])
    >>> T(1, 2, 3) == 3 * 25 * 343
    True
    """

    def __init__(self, params: Params, bases: Sequence[int], group_size: int = 6) -> None:
        self.params = _checks.params(params)
        self._table = _core.MultiExpTable(_checks.sequence(bases, "bases"), self.params.n,
                                          group_size)

    def __len__(self) -> int:
        return self._table.count

    @property
    def group_size(self) -> int:
        return self._table.group_size

    def eval(self, exponents: Sequence[int], threads: int | None = 1) -> int:
        """prod bases[j]^exponents[j] mod N (exponents >= 0, one per base)."""
        return self._table.eval(_checks.sequence(exponents, "exponents"), _checks.threads(threads))

    def __call__(self, *exponents) -> int:
        return self.eval(exponents)


def _weights(count: int, security: int) -> list[int]:
    """Fresh verifier weights: odd security-bit numbers from os.urandom (never a seeded PRNG).
    Odd weights also make one item off by an element of order 2 fail the batch as it fails
    alone (see batch_verify for several)."""
    nbytes = (security + 7) // 8
    raw = os.urandom(nbytes * count)
    mask = (1 << security) - 1
    return [(int.from_bytes(raw[i * nbytes:(i + 1) * nbytes], "big") & mask) | 1
            for i in range(count)]


def _up_to_sign(y: int, n: int, half: int) -> int:
    """min(y, n - y) for 0 <= y < n (y and -y are one group element; half = n >> 1), else y."""
    return (n - y if y > half else y) if 0 <= y < n else y


def _split_items(P: Params, items) -> tuple[list, list, list, list]:
    """(ws, xs, vidx, vals) of (w, x, v) items, each an exact int; the value rules (group
    elements, odd exponents) are ea_batch_verify's, which names the failing item."""
    triples = _checks.pairs(items, "items", ("w", "x", "v"))
    integer = _checks.integer
    ws = [w if type(w) is int else integer(w, f"witness {j}") for j, (w, _, _) in enumerate(triples)]
    xs = [x if type(x) is int else integer(x, f"element {j}") for j, (_, x, _) in enumerate(triples)]
    vidx: list[int] = []
    vals: list[int] = []
    where: dict[int, int] = {}
    n = P.n
    half = n >> 1
    for j, (_, _, v) in enumerate(triples):
        if type(v) is not int:
            v = integer(v, f"accumulator value {j}")
        key = _up_to_sign(v, n, half)
        k = where.get(key)
        if k is None:
            k = where[key] = len(vals)
            vals.append(v)
        vidx.append(k)
    return ws, xs, vidx, vals


def batch_verify(params: Params, items: Sequence[tuple[int, int, int]], *, security: int = DEFAULT_SECURITY,
                 threads: int | None = None) -> list[int]:
    """The indices of the items (w, x, v) with w^x != +-v (mod N); [] when all hold.

    Small-exponents test: the verifier draws fresh random odd ``security``-bit weights r_j
    (from os.urandom) and checks prod w_j^(x_j r_j) = +-prod v_j^(r_j) with one
    multi-exponentiation (items sharing one accumulator value cost one exponent sum); on
    failure it bisects, so exactly the failing items are returned. A false item slips through
    with probability about 2^-(security-1). Every w and v is validated as verify_membership
    does (InvalidElement / InvalidExponent on malformed input). Items are split over
    ``threads`` threads (default min(2, cpu_count)); repeated statements are checked once.

    The bound assumes nobody knows N's factors. Whoever does can find an element h of order
    2 (h^2 = 1, h != +-1); the odd weights make one false witness w*h fail in every group and
    bisection step as it fails alone, but two distinct false items carrying h cancel in any
    product with odd weights (and with probability 1/2 for random ones). Such a party can
    also forge witnesses that verify alone (x-th roots), so nothing beyond a known-factor
    (insecure) modulus is lost.
    """
    P = _checks.params(params)
    security = _checks.small_int(security, "security", MIN_SECURITY, MAX_SECURITY)
    threads = _checks.threads(threads)
    ws, xs, vidx, vals = _split_items(P, items)
    if not ws:
        return []
    first = _first_of_statement(P.n, ws, xs, vidx)
    distinct = sorted(set(first))
    if len(distinct) == len(ws):
        return _core.batch_verify(ws, xs, _weights(len(ws), security), vidx, vals, P.n, threads)
    try:
        failed = _core.batch_verify([ws[j] for j in distinct], [xs[j] for j in distinct],
                                    _weights(len(distinct), security),
                                    [vidx[j] for j in distinct], vals, P.n, threads)
    except EdgeaccError:    # the same check on every item, so the error names the right index
        return _core.batch_verify(ws, xs, _weights(len(ws), security), vidx, vals, P.n, threads)
    bad = {distinct[i] for i in failed}
    return [j for j in range(len(ws)) if first[j] in bad]


def _rows(obj, what: str, width: int | None = None) -> memoryview:
    """A C-contiguous (t, width) uint8 view of fixed-width big-endian rows: a 2-D buffer as
    is (numpy uint8 array, memoryview), a flat bytes-like object split into rows of width."""
    try:
        mv = memoryview(obj)
    except TypeError:
        raise EdgeaccTypeError(f"{what} must be a bytes-like object or a uint8 array, "
                               f"got {type(obj).__name__}") from None
    if mv.itemsize != 1 or mv.format not in ("B", "b", "c") or not mv.c_contiguous:
        raise InvalidArgument(f"{what} must be C-contiguous bytes (uint8)")
    if mv.nbytes == 0:
        raise InvalidArgument(f"{what} is empty")
    if mv.ndim == 2:
        shape = mv.shape
    elif mv.ndim == 1 and width:
        if mv.nbytes % width:
            raise InvalidArgument(f"{what} must hold whole rows of {width} bytes")
        shape = (mv.nbytes // width, width)
    else:
        raise InvalidArgument(f"{what} must be a 2-D (t, width) array or flat bytes of t rows of "
                              f"one width (t: the number of witness rows)")
    if mv.ndim == 2 and mv.format == "B":
        return mv
    return mv.cast("B").cast("B", shape)


def _flat_width(obj, t: int) -> int | None:
    """The row width of a flat buffer of t rows (None: not flat or not whole rows)."""
    try:
        mv = memoryview(obj)
    except TypeError:
        return None
    return mv.nbytes // t if t and mv.ndim == 1 and mv.nbytes % t == 0 else None


def batch_verify_buffers(params: Params, witnesses, elements, value: int, *,
                         security: int = DEFAULT_SECURITY, threads: int | None = None) -> list[int]:
    """batch_verify for t statements w_j^x_j = +-value given as fixed-width big-endian rows
    (no Python int per item): ``witnesses`` and ``elements`` are C-contiguous uint8 arrays of
    shape (t, width) (numpy, memoryview) or flat bytes-like objects, split into rows of N's
    byte length (witnesses) and len(elements) / t bytes (elements). The same checks, weights
    and answer as batch_verify on the same statements.

    >>> import edgeacc
    >>> P = Params.rsa2048()
    >>> acc = edgeacc.Accumulator(P, P.generator(b"rows"))
    >>> xs = [edgeacc.hash_to_prime(b"%d" % i)[0] for i in range(3)]
    >>> _ = acc.add_many(xs)
    >>> W = b"".join(w.to_bytes(256, "big") for w in acc.all_witnesses())
    >>> X = b"".join(x.to_bytes(32, "big") for x in xs[::-1])
    >>> batch_verify_buffers(P, W, X, acc.value)
    [0, 2]
    """
    P = _checks.params(params)
    security = _checks.small_int(security, "security", MIN_SECURITY, MAX_SECURITY)
    threads = _checks.threads(threads)
    value = _checks.integer(value, "accumulator value")
    if _flat_width(witnesses, 1) == 0 and _flat_width(elements, 1) == 0:
        return []                       # no rows (a flat empty buffer cannot be shaped)
    ws = _rows(witnesses, "witnesses", (P.n.bit_length() + 7) // 8)
    t = ws.shape[0]
    xs = _rows(elements, "elements", _flat_width(elements, t))
    if xs.shape[0] != t:
        raise InvalidArgument(f"elements has {xs.shape[0]} rows, witnesses {t}")
    nbytes = (security + 7) // 8
    rs = memoryview(os.urandom(nbytes * t)).cast("B", (t, nbytes))
    return _core.batch_verify_rows(ws, xs, value, P.n, rs, security, threads)


def _first_of_statement(n: int, ws: list[int], xs: list[int], vidx: list[int]) -> list[int]:
    """For each item, the first item stating the same (w up to sign, x, v up to sign). Each
    statement is checked once: repeats of one statement with an order-2 error (a factor of N
    known) would cancel in the weighted product however odd the weights."""
    first: dict[tuple, int] = {}
    half = n >> 1
    return [first.setdefault((_up_to_sign(w, n, half), x, k), j)
            for j, (w, x, k) in enumerate(zip(ws, xs, vidx))]


STRATEGIES = {
    "auto": _core.BATCH_AUTO,           # the cost model's choice (what batch_verify runs)
    "weighted": _core.BATCH_WEIGHTED,   # the weighted test on GMP, with bisection
    "lanes": _core.BATCH_LANES,         # every statement on its own, 8 at a time in lanes
    "ifma": _core.BATCH_IFMA,           # the weighted product in IFMA lanes
}


def _batch_verify_with_weights(params: Params, items, weights: Sequence[int],
                               threads: int | None = 1, count_ops: bool = False,
                               strategy: str = "auto"):
    """batch_verify with caller-chosen weights and optionally a forced strategy (STRATEGIES):
    for tests and benchmarks only (a prover who knows the weights can cheat). count_ops
    returns (failed, multiplications, squarings) of the weighted GMP test (0, 0 if another
    strategy ran: pass strategy="weighted" to count that test)."""
    P = _checks.params(params)
    ws, xs, vidx, vals = _split_items(P, items)
    weights = _checks.sequence(weights, "weights")
    if len(weights) != len(ws):
        raise InvalidArgument("one weight per item")
    if not ws:
        return ([], 0, 0) if count_ops else []
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise InvalidArgument(f"strategy must be one of {sorted(STRATEGIES)}")
    return _core.batch_verify(ws, xs, weights, vidx, vals, P.n, _checks.threads(threads),
                              count_ops, STRATEGIES[strategy])


def _unweighted_check(params: Params, items, group_size: int | None = None):
    """The paper's Protocol 3 check prod w_j^x_j = +-prod v_j (2^t subset table, one squaring
    chain). Returns (ok, multiplications, squarings). FORGEABLE by the Bezout attack: kept
    private for the paper-reproduction benchmark and the attack tests; never use it to decide
    membership."""
    P = _checks.params(params)
    items = _checks.pairs(items, "items", ("w", "x", "v"))
    if not items:
        raise InvalidArgument("items must not be empty")
    ws, xs, vs = ([_checks.integer(it[k], what) for it in items]
                  for k, what in ((0, "witness"), (1, "element"), (2, "accumulator value")))
    c = group_size if group_size is not None else min(len(items), 8)
    return _core._batch_check_unweighted(ws, xs, vs, P.n, c)


def root_factory(params: Params, base: int, elements: Sequence[int], *, threads: int | None = None,
                 arity: int = 0) -> list[int]:
    """[base^(prod of every element but elements[i]) for each i]: all witnesses of the
    elements over ``base`` by divide and conquer (RootFactory), O(t log t) exponentiation
    work instead of O(t^2). ``arity`` parts per node (2..8); 0 = default: on the IFMA path the
    tree's shape is chosen level by level (8 nodes at once in lanes), else 4."""
    P = _checks.params(params)
    xs = _checks.elements(elements)
    return _core.root_factory(base, xs, P.n, arity, _checks.threads(threads))


def update_witnesses(params: Params, witnesses: Sequence[int], new_elements: Iterable[int], *,
                     threads: int | None = None) -> list[int]:
    """Every witness after the elements ``new_elements`` were appended: w^(prod new), one
    exponentiation per witness by the batch's product, split over threads."""
    P = _checks.params(params)
    threads = _checks.threads(threads)
    new = _checks.elements(new_elements, "new element")
    ws = [_checks.integer(w, f"witness {j}") for j, w in enumerate(_checks.sequence(witnesses, "witnesses"))]
    if not new:
        for w in ws:    # validated as the non-empty path does, not passed through unchecked
            _core.check_element(w, P.n)
        return ws
    e = _core.product(new)
    return _core.powm_many_bases(ws, e, P.n, threads)


def shamir_trick(params: Params, wa: int, xa: int, wb: int, xb: int) -> int:
    """From wa^xa = +-v and wb^xb = +-v with coprime xa, xb: one witness w with
    w^(xa*xb) = +-v (Bezout: a*xa + b*xb = 1, w = wa^b * wb^a)."""
    P = _checks.params(params)
    return _core.shamir_trick(wa, _checks.element(xa, "xa"), wb, _checks.element(xb, "xb"), P.n)


def aggregate_witnesses(params: Params, pairs: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """From (w_k, x_k) with w_k^x_k = +-v for pairwise coprime x_k: (w_S, X) with
    w_S^X = +-v and X = prod x_k, by Shamir's trick over a balanced tree. The inputs are not
    verified: an invalid pair yields a witness that does not verify."""
    P = _checks.params(params)
    pairs = _checks.pairs(pairs, "pairs", ("w", "x"))
    if not pairs:
        raise InvalidArgument("pairs must not be empty")
    ws = [_checks.integer(w, f"witness {j}") for j, (w, _) in enumerate(pairs)]
    xs = _checks.elements([x for _, x in pairs])
    return _core.aggregate(ws, xs, P.n)
