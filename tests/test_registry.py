import importlib
import sys

import pytest

from pipeline.registry import Registry


def test_register_and_get():
    things = Registry("thing")

    @things.register("a")
    def a():
        return 1

    assert things.get("a") is a
    assert "a" in things
    assert list(things) == ["a"]
    assert len(things) == 1


def test_unknown_name_lists_choices():
    things = Registry("thing")
    things.register("beta")(object())
    things.register("alpha")(object())
    with pytest.raises(ValueError, match=r"unknown thing 'gamma'; expected one of alpha, beta"):
        things.get("gamma")


def test_duplicate_registration_is_an_error():
    things = Registry("thing")
    things.register("a")(1)
    with pytest.raises(ValueError, match="registered twice"):
        things.register("a")(2)


def test_unknown_name_suggests_the_closest():
    things = Registry("thing")
    things.register("conv")(object())
    things.register("ridge")(object())
    with pytest.raises(ValueError, match=r"expected one of conv, ridge; did you mean 'conv'\?$"):
        things.get("cnov")


def test_modules_are_imported_on_first_lookup_only(tmp_path, monkeypatch):
    package = tmp_path / "lazy_things"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from pipeline.registry import Registry\n"
        "THINGS = Registry('thing', modules=('lazy_things.made',))\n")
    (package / "made.py").write_text(
        "from lazy_things import THINGS\nTHINGS.register('made')(1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    lazy_things = importlib.import_module("lazy_things")
    assert "lazy_things.made" not in sys.modules
    assert lazy_things.THINGS.get("made") == 1
    assert "lazy_things.made" in sys.modules
