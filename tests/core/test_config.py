"""Configuration: development invents keys once; production refuses with one clear line."""

from pathlib import Path

import pytest

from marketing_ui.core.config import ConfigError, load_settings, new_key


def test_development_generates_keys_once_and_reuses_them(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path, database_url="")
    second = load_settings(data_dir=tmp_path, database_url="")
    assert first.encryption_keys and first.encryption_keys == second.encryption_keys
    assert first.blind_index_key == second.blind_index_key
    assert first.signing_key == second.signing_key
    assert first.blind_index_key not in first.encryption_keys
    assert (tmp_path / "secrets.env").stat().st_mode & 0o777 == 0o600
    assert first.database_url == f"sqlite:///{tmp_path / 'marketing.db'}"


def test_production_names_every_missing_variable_on_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(app_env="production", data_dir=tmp_path, database_url="", redis_url="")
    message = str(info.value)
    assert "\n" not in message
    for name in ("DATABASE_URL", "REDIS_URL", "ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "SIGNING_KEY"):
        assert name in message
    assert not (tmp_path / "secrets.env").exists()  # production never invents keys


def test_production_with_everything_starts(tmp_path: Path) -> None:
    settings = load_settings(
        app_env="production",
        data_dir=tmp_path,
        database_url="postgresql+psycopg://app@db/app",
        redis_url="redis://cache:6379/0",
        public_base_url="https://shop.example.com",
        encryption_keys=f"k1:{new_key()}",
        blind_index_key=new_key(),
        signing_key=new_key(),
    )
    assert settings.is_production and settings.active_key == "k1"
    assert settings.api_base_url == "https://shop.example.com"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"encryption_keys": "k1:not-base64!!"}, "ENCRYPTION_KEYS"),
        ({"encryption_keys": "k1:" + new_key()[:10]}, "32 bytes"),
        ({"signing_key": "c2hvcnQ"}, "SIGNING_KEY"),
        ({"public_base_url": "shop.example.com"}, "PUBLIC_BASE_URL"),
        ({"redis_url": "localhost:6379"}, "REDIS_URL"),
        ({"app_env": "staging"}, "APP_ENV"),
        ({"default_region": "USA"}, "DEFAULT_REGION"),
        ({"session_hours": 0}, "SESSION_HOURS"),
    ],
)
def test_bad_values_give_a_clear_error(tmp_path: Path, overrides: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=tmp_path, **overrides)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_active_key_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ACTIVE_KEY_ID"):
        load_settings(data_dir=tmp_path, encryption_keys=f"k1:{new_key()}", active_key_id="k9")


def test_environment_variables_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://env.example.com/")
    monkeypatch.setenv("DEFAULT_REGION", "gb")
    settings = load_settings(data_dir=tmp_path)
    assert settings.public_base_url == "https://env.example.com"
    assert settings.default_region == "GB"
