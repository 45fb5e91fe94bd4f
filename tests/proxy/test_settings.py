import json
from pathlib import Path

import pytest

from proxy.settings import ensure_token, load_settings


def test_defaults_and_home_created(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = load_settings(home)
    assert settings.home == home.resolve()
    assert home.stat().st_mode & 0o777 == 0o700
    assert (settings.proxy_port, settings.api_port) == (8350, 8351)
    assert settings.db_path.parent == settings.ca_dir.parent == settings.home


def test_file_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "settings.json").write_text(
        json.dumps({"proxy_port": 9000, "connect_overrides": {"Site.Example": "127.0.0.1:4443"}})
    )
    monkeypatch.setenv("VEIL_HOME", str(tmp_path))
    settings = load_settings(api_port=9001)
    assert (settings.proxy_port, settings.api_port) == (9000, 9001)
    assert settings.connect_overrides == {"site.example": "127.0.0.1:4443"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"prox_port": 1}', "unknown settings"),
        ('{"proxy_port": 70000}', "TCP port"),
        ('{"proxy_port": 9000, "api_port": 9000}', "must differ"),
        ('{"filter_deadline_s": 0}', "positive"),
        ('{"connect_overrides": {"a.example": "nowhere"}}', "ip:port"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "settings.json").write_text(content)
    with pytest.raises(ValueError, match=message):
        load_settings(tmp_path)


def test_token_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "token"
    token = ensure_token(path)
    assert len(token) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_token(path) == token
