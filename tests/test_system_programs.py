"""A missing system program fails where make test installs it, and skips with a reason elsewhere."""
import pytest

from system_programs import require_program


def test_missing_program_fails_where_required_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setenv("EMBER_REQUIRE_SYSTEM_PACKAGES", "1")
    with pytest.raises(pytest.fail.Exception, match="dot is not installed"):
        require_program("dot", "apt-get install graphviz")
    monkeypatch.delenv("EMBER_REQUIRE_SYSTEM_PACKAGES")
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install graphviz"):
        require_program("dot", "apt-get install graphviz")
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/" + name)
    assert require_program("dot", "apt-get install graphviz") == "/usr/bin/dot"
