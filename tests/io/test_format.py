"""The format table: what a reader module registers, and the mistakes ``register`` refuses."""

from __future__ import annotations

import importlib

import pytest

from xrdnet.io import FORMATS
from xrdnet.io.format import CONTAINERS, Format, in_container, register
from xrdnet.io.registry import READER_MODULES


def _read(path, raw, **_):  # a reader that is never called
    raise AssertionError("not called")


def test_every_format_is_registered_by_the_module_that_holds_its_reader():
    registered_by = {}
    for module in READER_MODULES:
        for value in vars(module).values():
            if isinstance(value, Format) and value.read.__module__ == module.__name__:
                registered_by.setdefault(value.name, set()).add(module.__name__)
    assert set(registered_by) == set(FORMATS)
    assert all(len(modules) == 1 for modules in registered_by.values()), registered_by
    for fmt in FORMATS.values():
        assert importlib.import_module(fmt.read.__module__) in READER_MODULES


def test_table_is_in_detection_order_with_one_last_resort():
    keys = [(CONTAINERS.index(f.container), f.last_resort, f.priority) for f in FORMATS.values()]
    assert keys == sorted(keys)
    assert [f.name for f in FORMATS.values() if f.last_resort] == ["table"]
    assert [f.name for f in in_container("text")] == ["rigaku-ras", "rigaku-asc", "fullprof-xydata", "gsas", "uxd", "chi"]


def test_register_refuses_a_second_format_of_one_name_and_a_second_last_resort():
    with pytest.raises(ValueError, match="registered twice"):
        register(Format("gsas", _read, "x", "text", lambda c: False))
    with pytest.raises(ValueError, match="already a last-resort"):
        register(Format("another-table", _read, "x", "text", last_resort=True))
    assert "another-table" not in FORMATS


def test_format_that_could_never_be_chosen_or_has_no_known_container_is_refused():
    with pytest.raises(ValueError, match="never be chosen"):
        Format("orphan", _read, "x", "text")
    with pytest.raises(ValueError, match="container"):
        Format("odd", _read, "x", "tape", lambda c: True)
