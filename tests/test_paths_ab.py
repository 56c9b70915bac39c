"""bench/paths_ab.py: its children run on the kernels they are named for, or it stops."""
import pytest

from bench import paths_ab


@pytest.mark.parametrize("path", sorted(paths_ab.PATHS))
def test_each_child_reports_the_path_it_was_asked_for(path):
    answer = paths_ab.run_child("build", path, [32])
    assert answer["build"]["portable"] is (path == "portable")
    assert answer["figures"] == {}


def test_a_child_on_the_other_path_than_its_name_is_refused(monkeypatch):
    monkeypatch.setitem(paths_ab.PATHS, "fast", "1")  # the "fast" child forced portable
    with pytest.raises(SystemExit, match="ran with build_info"):
        paths_ab.run_child("build", "fast", [32])


def test_table1_child_gives_cpu_per_transaction_of_both_runs():
    answer = paths_ab.run_child("table1", "portable", [32])
    figures = answer["figures"]
    assert set(figures) == {"Table I 32 B paced CPU s/1000 tx", "Table I 32 B burst CPU s/1000 tx"}
    assert all(v > 0 for v in figures.values())


def test_engine_child_gives_a_blocks_engine_work_on_its_path():
    answer = paths_ab.run_child("engine", "portable", [32])
    assert answer["build"]["portable"] is True
    figures = answer["figures"]
    assert set(figures) == {"block engine: hash_to_prime us", "block engine: 256-bit exponentiation us"}
    assert all(v > 0 for v in figures.values())
