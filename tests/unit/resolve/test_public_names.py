"""hxpm.resolve lists its lazily imported names twice (``_WHERE`` and ``__all__``)."""

import hxpm.resolve as resolve_pkg


def test_all_names_exactly_the_lazily_imported_names():
    assert sorted(resolve_pkg.__all__) == sorted(resolve_pkg._WHERE)


def test_every_public_name_resolves():
    for name in resolve_pkg.__all__:
        assert getattr(resolve_pkg, name) is not None, name
