import soundfile as sf

from emodubber.metrics.per import phone_errors, reference_phones
from tests.conftest import needs_tools


def test_reference_phones_drop_stress_and_silence():
    assert reference_phones(["sil", "B", "IH1", "N", "sp", "AA0", "sil"]) == ["B", "IH", "N", "AA"]


def test_phone_errors_counts_edits():
    assert phone_errors(["B", "IH", "N"], ["B", "IH", "N"]) == (0, 3)
    assert phone_errors(["B", "IH", "N"], ["P", "IH"]) == (2, 3)
    assert phone_errors(["B"], []) == (1, 1)


@needs_tools
def test_per_separates_clean_from_blurred_speech(tmp_path):
    from emodubber.metrics.per import PhoneRecognizer, griffin_lim_copy
    from tests.metrics.conftest import SENTENCES, flite_phones

    pr = PhoneRecognizer()
    clean = blurred = n = 0
    for i, s in enumerate(SENTENCES[:2]):
        ph, _ = flite_phones(s, tmp_path / f"{i}.wav")
        x, _ = sf.read(tmp_path / f"{i}.wav", dtype="float32")
        ref = reference_phones(ph)
        clean += phone_errors(ref, pr.phones(griffin_lim_copy(x)))[0]
        blurred += phone_errors(ref, pr.phones(griffin_lim_copy(x, blur_frames=9)))[0]
        n += len(ref)
    assert blurred / n > clean / n + 0.1
