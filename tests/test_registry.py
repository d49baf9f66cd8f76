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
