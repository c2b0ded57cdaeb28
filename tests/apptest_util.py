"""Pages through Streamlit's AppTest: open one (optionally on a comparison, with URL state) and read its text."""

from conftest import ROOT

APP = str(ROOT / "streamlit_app.py")


def run_page(page: str | None, cid: str | None, **params):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=180)
    if cid:
        at.query_params["c"] = cid
    if page:  # st.navigation registers the pages on the first run; a switch starts a fresh URL
        at.run()
        at.switch_page(page)
        at.query_params.clear()
        if cid:
            at.query_params["c"] = cid
    at.query_params.update({k: str(v) for k, v in params.items()})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)
