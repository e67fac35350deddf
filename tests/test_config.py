import pytest

from emodubber.config import ConfigError, EMOTIONS, ProfileConfig, load_profile, to_dict, from_dict


@pytest.mark.parametrize("name", ["smoke", "cpu", "paper"])
def test_every_profile_loads_and_keeps_the_t_equals_4f_contract(name):
    cfg = load_profile(name, local=None, overrides={"corpus.root": "/somewhere"} if name == "paper" else None)
    assert cfg.name == name
    assert cfg.mel_per_frame == 4
    assert cfg.audio.n_fft == 640 and cfg.audio.hop_length == 160 and cfg.audio.n_mels == 80


def test_profiles_differ_in_size():
    smoke, cpu = load_profile("smoke", local=None), load_profile("cpu", local=None)
    assert smoke.corpus.n_dubbing_clips < cpu.corpus.n_dubbing_clips
    assert smoke.model.d_model <= cpu.model.d_model


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"model\.d_modle"):
        load_profile("smoke", overrides={"model.d_modle": 3}, local=None)


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"train\.tts\.steps"):
        load_profile("smoke", overrides={"train.tts.steps": "many"}, local=None)
    with pytest.raises(ConfigError, match=r"train\.tts\.steps: expected a whole number"):
        load_profile("smoke", overrides={"train.tts.steps": 2.5}, local=None)


def test_broken_contract_is_refused():
    with pytest.raises(ConfigError, match="T = 4F"):
        load_profile("smoke", overrides={"audio.hop_length": 150}, local=None)


def test_real_corpus_needs_a_root():
    with pytest.raises(ConfigError, match="corpus.root"):
        load_profile("paper", local=None)


def test_unknown_profile_lists_known():
    with pytest.raises(ConfigError, match="smoke"):
        load_profile("nope", local=None)


def test_round_trip_through_dict():
    cfg = load_profile("cpu", local=None)
    again = from_dict(ProfileConfig, to_dict(cfg))
    assert again == cfg


def test_local_yaml_is_merged(tmp_path):
    local = tmp_path / "local.yaml"
    local.write_text("corpus:\n  root: /data/GRID\n")
    cfg = load_profile("paper", local=local)
    assert cfg.corpus.root == "/data/GRID" and cfg.corpus.kind == "grid"


def test_emotions_fixed_order():
    assert EMOTIONS[:5] == ("neutral", "happy", "sad", "surprised", "angry") and len(EMOTIONS) == 7


@pytest.mark.parametrize("key, value, match", [
    ("model.decoder_dropout", 1.0, r"model\.decoder_dropout must be in \[0, 1\)"),
    ("model.dropout", -0.1, r"model\.dropout must be in"),
    ("judges.emotion_judge_lifter", 81, r"judges\.emotion_judge_lifter must be 0 \(off\) \.\. audio\.n_mels \(80\)"),
    ("judges.emotion_judge_warp", -0.1, r"judges\.emotion_judge_warp must be >= 0"),
])
def test_dropout_and_emotion_judge_settings_are_checked(key, value, match):
    with pytest.raises(ConfigError, match=match):
        load_profile("smoke", overrides={key: value}, local=None)
    load_profile("smoke", overrides={key: 0}, local=None)  # the edge value is accepted


def test_field_judges_are_on_for_cpu_and_paper_off_for_smoke_and_checked():
    from emodubber.config import FIELD_JUDGES
    from emodubber.metrics.evaluate import OPTIONAL_METRICS

    assert OPTIONAL_METRICS == FIELD_JUDGES == ("whisper", "dnsmos")
    assert load_profile("cpu", local=None).eval.field_judges == ["whisper", "dnsmos"]
    assert load_profile("paper", overrides={"corpus.kind": "synthetic"}, local=None).eval.field_judges == \
        ["whisper", "dnsmos"]
    assert load_profile("smoke", local=None).eval.field_judges == []
    assert load_profile("smoke", overrides={"eval.field_judges": ["dnsmos"]}, local=None).eval.field_judges == \
        ["dnsmos"]
    for bad in (["utmos"], ["whisper", "whisper"]):
        with pytest.raises(ConfigError, match=r"eval\.field_judges must be a list of distinct choices from "
                                              r"\['whisper', 'dnsmos'\]"):
            load_profile("smoke", overrides={"eval.field_judges": bad}, local=None)
    with pytest.raises(ConfigError, match=r"eval\.field_judges: expected a list"):
        load_profile("smoke", overrides={"eval.field_judges": "whisper"}, local=None)
