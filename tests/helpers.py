"""Helpers shared by the engine tests."""
import edgeacc


def reps(tag: bytes, count: int) -> list:
    """count distinct prime representatives."""
    return [edgeacc.hash_to_prime(b"%s-%d" % (tag, i))[0] for i in range(count)]
