"""/docs: Swagger UI from liveloop itself, so that an installation without internet shows its API docs.

The Swagger UI files come from the `swagger-ui-bundle-v2` package (Swagger UI 5, which reads the
OpenAPI 3.1 document FastAPI writes; Apache-2.0, its licence ships with the package).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from liveloop.kit.errors import NotFound

ASSETS = "/docs-assets"
_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")  # what the page loads, nothing else


def add_docs(api: FastAPI) -> None:
    """Serve /docs and its assets; the app is created with `docs_url=None`."""

    @api.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=api.openapi_url or "/openapi.json", title=f"{api.title} API",
                                   swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS}/favicon-32x32.png")

    @api.get(ASSETS + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in _FILES:
            raise NotFound(f"no docs asset {name!r}")
        # The files change only with the package: a day of caching spares each visit 1.5 MB.
        return FileResponse(str(swagger_ui_path / name), headers={"cache-control": "public, max-age=86400"})
