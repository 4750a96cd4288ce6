"""/docs on an installation without internet: the API docs' page and assets come from liveloop itself."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from tests.e2e.test_widget_browser import chromium  # noqa: F401 (a fixture)


def test_the_docs_page_loads_nothing_from_another_host(server):
    with server.client(None) as anon:
        page = anon.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        urls = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', page.text)
        urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", page.text)  # the OpenAPI document
        assert urls, page.text
        for url in urls:
            absolute = urljoin(server.url + "/docs", url)
            assert urlsplit(absolute).netloc == urlsplit(server.url).netloc, f"/docs loads {url} from elsewhere"
            answer = anon.get(absolute)
            assert answer.status_code == 200, url
        kinds = {urlsplit(u).path.rsplit(".", 1)[-1] for u in urls}
        assert {"js", "css"} <= kinds
        assert anon.get("/docs-assets/index.html").status_code == 404  # only the assets the page uses


@pytest.mark.browser
def test_the_docs_render_in_a_browser_that_cannot_reach_the_internet(server, chromium, tmp_path):  # noqa: F811
    context = chromium.new_context(locale="en-US")
    elsewhere: list[str] = []

    def offline(route) -> None:
        if urlsplit(route.request.url).netloc == urlsplit(server.url).netloc:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", offline)
    try:
        page = context.new_page()
        page.goto(server.url + "/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert "liveloop" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector('.opblock-summary-path[data-path="/v1/campaigns"]', timeout=20_000)
        page.screenshot(path=str(tmp_path / "docs.png"))
    finally:
        context.close()
    assert elsewhere == []
