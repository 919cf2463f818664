"""The API docs page (Swagger UI from drf-spectacular-sidecar) under the site's CSP.

The split view serves Swagger UI's start-up script as a file of its own instead of an
inline <script>, so script-src stays 'self'. Its page carries one inline <style> block
and Swagger UI sets inline styles as it renders: this page alone may use inline styles.
"""

from csp.decorators import csp_update
from drf_spectacular.views import SpectacularSwaggerSplitView

api_docs = csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api_schema")
)
