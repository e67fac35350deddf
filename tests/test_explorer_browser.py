"""The α/β explorer as its users meet it: Voilà serves notebook 20, Debian's chromium drives it through Selenium.

Stand-in models (untrained, real file formats: tests/fixtures/standin_models.py) in a temporary work
directory, passed to the page by ``EMODUBBER_EXPLORER_WORK_DIR``. The test waits for the first result,
drags the α slider, changes the emotion, and checks that the audio, the mel image and the asked emotion's
posterior bar change each time; a second page (query ``work_dir`` pointing at an empty directory) must
name the missing models and what to run. It stops the server itself, also on failure, and saves a
screenshot to ``reports/smoke/explorer_voila.png``. Timings are printed (``-s`` shows them), not asserted.

The same walk runs with the **trained ``cpu`` models** when they exist (the ``cpu`` profile's work directory, or
``$EMODUBBER_EXPLORER_CPU_WORK_DIR``; a clean clone has none and skips it, saying so) and saves
``reports/cpu/explorer_voila.png``: the committed picture of the explorer as a user meets it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "20_explore_alpha_beta.ipynb"
SCREENSHOT = "reports/{profile}/explorer_voila.png"  # under ROOT
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Every wait is bounded; $EMODUBBER_TEST_TIMEOUT_SCALE stretches them all on a host shared with a long run.
SCALE = float(os.environ.get("EMODUBBER_TEST_TIMEOUT_SCALE", "1") or 1)
SERVER_UP_S = 240 * SCALE  # the server answering on its port (a busy 2-core host: generous, never unbounded)
PAGE_S = 600 * SCALE  # Voilà runs the notebook (imports torch, loads the models, first synthesis) before the page
UPDATE_S = 300 * SCALE  # one slider release on a busy host

pytestmark = [pytest.mark.slow, pytest.mark.timeout(int(1800 * SCALE))]


def _skip_reason() -> str:
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{what} not installed at {path} (scripts/install_system.sh installs it)"
    for mod in ("voila", "selenium"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} not installed (pip install -e '.[all]')"
    for tool in ("flite", "ffmpeg"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (the stand-in corpus needs it; scripts/install_system.sh installs it)"
    return ""


if _skip_reason():
    pytest.skip(_skip_reason(), allow_module_level=True)


def log(msg: str) -> None:
    print(f"[explorer-browser] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_tree(proc: subprocess.Popen) -> None:
    """Stop the server and every process under it (its kernels), TERM then KILL."""
    import psutil

    try:
        procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _gone, alive = psutil.wait_procs(procs, timeout=15)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)


@contextmanager
def voila_server(env: dict, logfile: Path):
    """Voilà serving notebook 20 on 127.0.0.1 at a free port; yields its URL; always stopped on exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--show_tracebacks=False", f"--VoilaExecutor.startup_timeout={int(60 * SCALE)}",
           f"--VoilaExecutor.timeout={int(PAGE_S)}", f"--MappingKernelManager.kernel_info_timeout={60 * SCALE:.0f}"]
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    t0 = time.perf_counter()
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Voilà exited with {proc.returncode} before serving; its log:\n{logfile.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                pass
            if time.perf_counter() - t0 > SERVER_UP_S:
                pytest.fail(f"Voilà did not come up in {SERVER_UP_S:.0f} s; its log:\n{logfile.read_text()}")
            time.sleep(0.5)
        log(f"server up in {time.perf_counter() - t0:.1f} s (port {port})")
        yield f"http://127.0.0.1:{port}/"
    finally:
        _kill_tree(proc)


@contextmanager
def chromium(tmp: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1300,1250",
              "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp / 'chromium-profile'}"):
        opts.add_argument(a)
    service = Service(CHROMEDRIVER, log_output=str(tmp / "chromedriver.log"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(PAGE_S)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _digest(s: str | None) -> str:
    return hashlib.sha1((s or "").encode()).hexdigest()[:12]


_SNAPSHOT_JS = """
const st = document.querySelector('.emx-status'), a = document.querySelector('audio.emx-audio'),
      m = document.querySelector('img.emx-mel'), bars = {};
document.querySelectorAll('.emx-bar').forEach(b => { bars[b.dataset.emotion] = [parseFloat(b.dataset.p),
                                                                               b.dataset.asked === 'true']; });
return {state: st ? st.dataset.state : null, calls: st ? parseInt(st.dataset.calls || '0') : 0,
        seconds: st ? parseFloat(st.dataset.seconds || 'NaN') : null, audio: a ? a.src : null,
        mel: m ? m.src : null, bars: bars};
"""


def snapshot(driver) -> dict:
    """What the page shows now, read in one script (the widgets may re-render between two reads): status, audio
    and mel (as digests of their data URIs), the bars."""
    snap = driver.execute_script(_SNAPSHOT_JS)
    snap["audio"], snap["mel"] = _digest(snap["audio"]), _digest(snap["mel"])
    snap["bars"] = {e: (float(p), bool(asked)) for e, (p, asked) in snap["bars"].items()}
    snap["asked"] = next((e for e, (_p, asked) in snap["bars"].items() if asked), None)
    return snap


def wait_for_result(driver, after_calls: int, timeout: float) -> dict:
    """Wait until the page shows result number ``after_calls + 1`` (or an error message: fail with it)."""
    from selenium.webdriver.common.by import By

    t_end = time.perf_counter() + timeout
    while time.perf_counter() < t_end:
        errs = driver.find_elements(By.CSS_SELECTOR, ".emx-error")
        if errs and errs[0].text.strip():
            pytest.fail(f"the page shows an error: {errs[0].text}")
        snap = snapshot(driver)
        if snap["state"] == "done" and snap["calls"] > after_calls and snap["bars"]:
            return snap
        time.sleep(0.1)
    body = driver.find_element(By.TAG_NAME, "body").text
    pytest.fail(f"no new result within {timeout} s; the page says: {body[:2000]}")


@pytest.fixture(scope="module")
def standin_dir(tmp_path_factory):
    """The stand-ins' work dir: built here, or ``$EMODUBBER_TEST_STANDIN_DIR`` when set (one built before with
    ``python -m tests.fixtures.standin_models DIR``, to rerun the test quickly)."""
    from tests.fixtures.standin_models import build_standin_workdir

    given = os.environ.get("EMODUBBER_TEST_STANDIN_DIR", "")
    if given:
        return Path(given)
    root = tmp_path_factory.mktemp("explorer-standins")
    t0 = time.perf_counter()
    build_standin_workdir(root)
    log(f"stand-in work dir built in {time.perf_counter() - t0:.1f} s")
    return root


def cpu_work_dir() -> Path | None:
    """The trained ``cpu`` models' work directory, or None when the dubber was never trained there."""
    from emodubber.config import load_profile

    given = os.environ.get("EMODUBBER_EXPLORER_CPU_WORK_DIR", "")
    work = Path(given) if given else load_profile("cpu").work_dir
    return work if (work / "checkpoints" / "dubber" / "model.pt").exists() else None


def server_env(tmp: Path, work_dir: Path, profile: str = "smoke") -> dict:
    """The server's environment: this checkout first on the path, a kernel running this interpreter, the
    stand-ins' work dir, nothing read from the user's Jupyter set-up."""
    kdir = tmp / "jupyter" / "kernels" / "emodubber"  # the notebook's kernel name, pointing at this interpreter
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (emodubber, test)", "language": "python"}))
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               JUPYTER_PATH=str(tmp / "jupyter"), JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"), MPLBACKEND="Agg", OMP_WAIT_POLICY="PASSIVE",
               SE_OFFLINE="true", EMODUBBER_EXPLORER_PROFILE=profile, EMODUBBER_EXPLORER_WORK_DIR=str(work_dir))
    return env


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_explorer_in_the_browser(profile, standin_dir, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    if profile == "smoke":
        work_dir = standin_dir
    else:
        work_dir = cpu_work_dir()
        if work_dir is None:
            pytest.skip("no trained cpu models (make reproduce PROFILE=cpu, or $EMODUBBER_EXPLORER_CPU_WORK_DIR)")
    screenshot = ROOT / SCREENSHOT.format(profile=profile)
    timings = {}
    logfile = tmp_path / "voila.log"
    try:
        with voila_server(server_env(tmp_path, work_dir, profile), logfile) as url, chromium(tmp_path) as driver:
            t0 = time.perf_counter()
            driver.get(url)
            timings["request to page loaded (server runs the notebook)"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            first = wait_for_result(driver, 0, UPDATE_S)
            timings["page loaded to first result on screen"] = time.perf_counter() - t1
            body = driver.find_element(By.TAG_NAME, "body").text
            assert "Traceback" not in body
            assert profile in driver.find_element(By.CSS_SELECTOR, ".emx-models").text  # which models, said
            assert "open_session" not in driver.page_source  # Voilà shows no code
            assert first["asked"] == "angry" and len(first["bars"]) == 7

            # drag α's handle to the right and let go: one re-synthesis on release
            alpha = driver.find_element(By.CSS_SELECTOR, ".emx-alpha")
            before = alpha.find_element(By.CSS_SELECTOR, ".widget-readout").text
            handle = alpha.find_element(By.CSS_SELECTOR, ".noUi-handle")
            t2 = time.perf_counter()
            ActionChains(driver).click_and_hold(handle).move_by_offset(60, 0).release().perform()
            moved = wait_for_result(driver, first["calls"], UPDATE_S)
            timings["α release to result on screen"] = time.perf_counter() - t2
            timings["α update in the kernel"] = moved["seconds"]
            after = alpha.find_element(By.CSS_SELECTOR, ".widget-readout").text
            log(f"α {before} -> {after}; calls {first['calls']} -> {moved['calls']}")
            assert after != before
            assert moved["calls"] == first["calls"] + 1  # on release, not on every pixel
            assert moved["audio"] != first["audio"] and moved["mel"] != first["mel"]
            assert moved["bars"]["angry"][0] != first["bars"]["angry"][0]

            # another emotion: the asked bar moves to it and the sound changes
            sel = Select(driver.find_element(By.CSS_SELECTOR, ".emx-emotion select"))
            t3 = time.perf_counter()
            sel.select_by_visible_text("sad")
            sad = wait_for_result(driver, moved["calls"], UPDATE_S)
            timings["emotion change to result on screen"] = time.perf_counter() - t3
            timings["emotion update in the kernel"] = sad["seconds"]
            assert sad["asked"] == "sad"
            assert sad["audio"] != moved["audio"] and sad["mel"] != moved["mel"]
            assert sad["bars"]["sad"][0] != moved["bars"]["sad"][0]
            audio_s = float(driver.find_element(By.CSS_SELECTOR, "audio.emx-audio").get_attribute("data-seconds"))
            timings["clip length (s of speech)"] = audio_s
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(str(screenshot))
    finally:
        for k, v in timings.items():
            log(f"{profile} {k}: {v:.2f}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explorer_page_names_missing_models(standin_dir, tmp_path):
    """An empty work directory (the page's ``work_dir`` query): a message naming what to run, no traceback."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    empty = tmp_path / "empty-work"
    empty.mkdir()
    with voila_server(server_env(tmp_path, standin_dir), tmp_path / "voila.log") as url, chromium(tmp_path) as driver:
        t0 = time.perf_counter()
        driver.get(f"{url}?work_dir={empty}")
        msg = WebDriverWait(driver, UPDATE_S).until(lambda d: d.find_element(By.CSS_SELECTOR, ".emx-error")).text
        log(f"missing-models page in {time.perf_counter() - t0:.1f} s: {msg!r}")
        assert "No trained models" in msg and "make reproduce PROFILE=smoke" in msg
        assert "Traceback" not in driver.find_element(By.TAG_NAME, "body").text
