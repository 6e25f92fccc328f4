"""Runtime settings from LLMOPT_* environment variables, overridden by CLI flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmopt.settings import Settings


class TestFromEnv:
    @pytest.mark.parametrize(
        ("name", "value", "field", "expected"),
        [
            ("LLMOPT_NATS_PORT", "4222", "nats_port", 4222),
            ("LLMOPT_NATS_MAX_PAYLOAD", "1048576", "nats_max_payload", 1_048_576),
            ("LLMOPT_STREAM_REPLICAS", "3", "stream_replicas", 3),
            ("LLMOPT_DUPLICATE_WINDOW_S", "1.5", "duplicate_window_s", 1.5),
            ("LLMOPT_DUPLICATE_WINDOW_S", "600", "duplicate_window_s", 600.0),
            ("LLMOPT_CHECKPOINT_EVERY_SECONDS", "0.25", "checkpoint_every_seconds", 0.25),
            ("LLMOPT_STATE_DIR", "/var/lib/llmopt", "state_dir", Path("/var/lib/llmopt")),
            ("LLMOPT_STATE_DIR", "relative/dir", "state_dir", Path("relative/dir")),
            (
                "LLMOPT_NATS_CREDS",
                "/etc/nats/user.creds",
                "nats_creds",
                Path("/etc/nats/user.creds"),
            ),
            ("LLMOPT_NATS_TLS_CA", "ca.pem", "nats_tls_ca", Path("ca.pem")),
            ("LLMOPT_NATS_URL", "nats://h:4222", "nats_url", "nats://h:4222"),
            ("LLMOPT_NATS_SYNC_INTERVAL", "always", "nats_sync_interval", "always"),
            ("LLMOPT_RAY_NAMESPACE", "ns", "ray_namespace", "ns"),
        ],
        ids=lambda v: v if isinstance(v, str) and v.startswith("LLMOPT_") else None,
    )
    def test_variables_are_parsed_with_their_types(
        self, name: str, value: str, field: str, expected: object
    ) -> None:
        """Each LLMOPT_<FIELD> string becomes the field's type: int, float, Path or str."""
        got = getattr(Settings.from_env({name: value}), field)
        assert got == expected
        assert type(got) is type(expected)

    def test_no_variables_give_the_defaults(self) -> None:
        """With no LLMOPT_* variables every field has its default."""
        assert Settings.from_env({}) == Settings()

    def test_empty_variable_means_unset(self) -> None:
        """An empty variable (``LLMOPT_NATS_URL=``) leaves the field at its default."""
        settings = Settings.from_env({"LLMOPT_NATS_URL": "", "LLMOPT_NATS_PORT": ""})
        assert (settings.nats_url, settings.nats_port) == (None, 0)

    @pytest.mark.parametrize(
        "environ",
        [{"llmopt_nats_port": "4222"}, {"NATS_PORT": "4222"}, {"LLMOPT_NATSPORT": "4222"}],
        ids=["lower-case", "no-prefix", "misspelt"],
    )
    def test_only_exact_names_are_read(self, environ: dict[str, str]) -> None:
        """Only upper-case LLMOPT_<FIELD> names set a field; near misses are not read."""
        assert Settings.from_env(environ).nats_port == 0

    def test_reads_process_environment_by_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without an explicit mapping the process environment is read."""
        monkeypatch.setenv("LLMOPT_FETCH_BATCH", "17")
        assert Settings.from_env().fetch_batch == 17

    def test_nats_data_dir_is_under_state_dir(self) -> None:
        """The embedded server's data lives in <state_dir>/nats."""
        settings = Settings.from_env({"LLMOPT_STATE_DIR": "/srv/x"})
        assert settings.nats_data_dir == Path("/srv/x/nats")

    def test_settings_are_frozen(self) -> None:
        """Settings cannot be changed after creation (every component sees the same value)."""
        settings = Settings.from_env({})
        with pytest.raises(AttributeError):
            settings.nats_port = 1  # type: ignore[misc]


class TestOverrides:
    def test_override_wins_over_environment(self) -> None:
        """A CLI flag beats the environment variable for the same field."""
        env = {"LLMOPT_NATS_PORT": "4222", "LLMOPT_STATE_DIR": "/from/env"}
        settings = Settings.from_env(env, nats_port=5000, state_dir=Path("/from/cli"))
        assert (settings.nats_port, settings.state_dir) == (5000, Path("/from/cli"))

    def test_none_override_is_ignored(self) -> None:
        """A flag the user did not give (None) leaves the environment value in place."""
        env = {"LLMOPT_NATS_PORT": "4222", "LLMOPT_NATS_URL": "nats://env"}
        settings = Settings.from_env(env, nats_port=None, nats_url=None)
        assert (settings.nats_port, settings.nats_url) == (4222, "nats://env")

    def test_string_overrides_are_converted(self) -> None:
        """Overrides given as strings are converted like environment values."""
        settings = Settings.from_env({}, nats_port="4333", state_dir="/s")
        assert (settings.nats_port, settings.state_dir) == (4333, Path("/s"))

    def test_other_fields_keep_environment_values(self) -> None:
        """Overriding one field leaves the fields set by the environment alone."""
        settings = Settings.from_env({"LLMOPT_METRICS_PORT": "9100"}, nats_port=1)
        assert (settings.metrics_port, settings.nats_port) == (9100, 1)


class TestBadValues:
    @pytest.mark.parametrize(
        ("environ", "field"),
        [
            ({"LLMOPT_NATS_PORT": "abc"}, "nats_port"),
            ({"LLMOPT_NATS_PORT": "1.5"}, "nats_port"),
            ({"LLMOPT_FETCH_BATCH": "true"}, "fetch_batch"),
            ({"LLMOPT_DUPLICATE_WINDOW_S": "ten"}, "duplicate_window_s"),
            ({"LLMOPT_CHECKPOINT_EVERY_EVENTS": "12abc"}, "checkpoint_every_events"),
        ],
        ids=["int-word", "int-fraction", "int-bool", "float-word", "int-trailing-junk"],
    )
    def test_bad_environment_value_names_the_field(
        self, environ: dict[str, str], field: str
    ) -> None:
        """A variable that does not parse raises ValueError naming the field."""
        with pytest.raises(ValueError, match=rf"invalid setting: .*\$\.{field}\b"):
            Settings.from_env(environ)

    def test_bad_override_names_the_field(self) -> None:
        """A CLI value of the wrong type raises ValueError naming the field."""
        with pytest.raises(ValueError, match=r"\$\.metrics_port"):
            Settings.from_env({}, metrics_port="ninety")

    def test_bad_path_override_names_the_field(self) -> None:
        """A path setting given a non-path value raises ValueError naming the field."""
        with pytest.raises(ValueError, match=r"\$\.state_dir"):
            Settings.from_env({}, state_dir=5)
