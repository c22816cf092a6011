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
        (
            {"guard_complaint_pct": 0},
            "GUARD_COMPLAINT_PCT: expected a share of sent messages, more than 0, at most 100.",
        ),
        ({"guard_hard_bounce_pct": 150}, "GUARD_HARD_BOUNCE_PCT: expected a share"),
        ({"guard_min_sent": 0}, "GUARD_MIN_SENT: expected a whole number from 1 to 1,000,000."),
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


# Production refuses unsafe settings ----------------------------------------------------------


def production(tmp_path: Path, **overrides: object):  # noqa: ANN201 - Settings
    values: dict[str, object] = {
        "app_env": "production",
        "data_dir": tmp_path,
        "database_url": "postgresql+psycopg://app@db/app",
        "redis_url": "redis://cache:6379/0",
        "public_base_url": "https://shop.example.com",
        "encryption_keys": f"k1:{new_key()}",
        "blind_index_key": new_key(),
        "signing_key": new_key(),
    }
    values.update(overrides)
    return load_settings(**{k: v for k, v in values.items() if v is not None})


def refusal(tmp_path: Path, **overrides: object) -> str:
    with pytest.raises(ConfigError) as info:
        production(tmp_path, **overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"public_base_url": None}, "missing PUBLIC_BASE_URL"),
        ({"public_base_url": ""}, "missing PUBLIC_BASE_URL"),
        (
            {"public_base_url": "http://shop.example.com"},
            "PUBLIC_BASE_URL: must start with https://",
        ),
        ({"public_base_url": "http://localhost:8000"}, "PUBLIC_BASE_URL: must start with https://"),
        ({"public_api_url": "http://api.example.com"}, "PUBLIC_API_URL: must start with https://"),
        (
            {"public_base_url": "http://shop.example.com", "allow_insecure_http": True},
            "ALLOW_INSECURE_HTTP allows http:// only for localhost",
        ),
        ({"email_provider": "resend", "resend_api_key": "re_x"}, "missing RESEND_WEBHOOK_SECRET"),
        (
            {"email_provider": "resend", "resend_webhook_secret": "whsec_x"},
            "missing RESEND_API_KEY",
        ),
        (
            {"sms_provider": "twilio", "twilio_account_sid": "AC1", "twilio_from_number": "+1"},
            "missing TWILIO_AUTH_TOKEN",
        ),
        (
            {"sms_provider": "twilio", "twilio_auth_token": "t", "twilio_from_number": "+1"},
            "missing TWILIO_ACCOUNT_SID",
        ),
        (
            {"sms_provider": "twilio", "twilio_account_sid": "AC1", "twilio_auth_token": "t"},
            "missing TWILIO_FROM_NUMBER",
        ),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path: Path, overrides: dict, expected: str) -> None:
    assert expected in refusal(tmp_path, **overrides)


def test_production_left_at_the_development_url_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not setting PUBLIC_BASE_URL would put http://localhost:3000 in every unsubscribe link."""
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    assert "missing PUBLIC_BASE_URL" in refusal(tmp_path, public_base_url=None)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://env.example.com")
    assert production(tmp_path, public_base_url=None).public_base_url == "https://env.example.com"


def test_loopback_http_only_with_the_explicit_flag(tmp_path: Path) -> None:
    """The project's own production-mode browser tests run on 127.0.0.1 without TLS."""
    for url in ("http://localhost:3000", "http://127.0.0.1:8123", "http://[::1]:8000"):
        settings = production(tmp_path, public_base_url=url, allow_insecure_http=True)
        assert settings.public_base_url == url
        assert "https://" in refusal(tmp_path, public_base_url=url)


def test_every_production_problem_is_named_in_one_line(tmp_path: Path) -> None:
    key = new_key()
    message = refusal(
        tmp_path,
        redis_url="",
        public_base_url="http://shop.example.com",
        signing_key=key,
        blind_index_key=key,
        email_provider="resend",
        resend_api_key="re_x",
        sms_provider="twilio",
    )
    for expected in (
        "REDIS_URL",
        "RESEND_WEBHOOK_SECRET",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_FROM_NUMBER",
        "SIGNING_KEY: must differ from BLIND_INDEX_KEY",
    ):
        assert expected in message
    assert key not in message and "re_x" not in message


@pytest.mark.parametrize("app_env", ["development", "production"])
def test_no_two_keys_may_be_equal(tmp_path: Path, app_env: str) -> None:
    one, two = new_key(), new_key()
    cases = {
        "SIGNING_KEY: must differ from BLIND_INDEX_KEY": {
            "blind_index_key": one,
            "signing_key": one,
        },
        "BLIND_INDEX_KEY: must differ from ENCRYPTION_KEYS key k1": {
            "encryption_keys": f"k1:{one}",
            "blind_index_key": one,
        },
        "SIGNING_KEY: must differ from ENCRYPTION_KEYS key k2": {
            "encryption_keys": f"k1:{two},k2:{one}",
            "signing_key": one,
        },
        "ENCRYPTION_KEYS key k2: must differ from ENCRYPTION_KEYS key k1": {
            "encryption_keys": f"k1:{one},k2:{one}",
        },
        # The same key written without its base64 padding is still the same key.
        "SIGNING_KEY: must differ from BLIND_INDEX_KEY ": {
            "blind_index_key": one,
            "signing_key": one + "=" * (-len(one) % 4),
        },
    }
    for expected, keys in cases.items():
        values = {"blind_index_key": new_key(), "signing_key": new_key(), **keys}
        with pytest.raises(ConfigError) as info:
            if app_env == "production":
                production(tmp_path, **values)
            else:
                load_settings(data_dir=tmp_path, **values)
        assert expected.strip() in str(info.value)
        assert one not in str(info.value) and two not in str(info.value)


def test_trusted_proxy_hops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(data_dir=tmp_path).trusted_proxy_hops == 0
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "2")
    assert load_settings(data_dir=tmp_path).trusted_proxy_hops == 2
    for bad in ("-1", "many", "11"):
        monkeypatch.setenv("TRUSTED_PROXY_HOPS", bad)
        with pytest.raises(ConfigError, match="TRUSTED_PROXY_HOPS"):
            load_settings(data_dir=tmp_path)
