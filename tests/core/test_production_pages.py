"""Pages under production settings (DEBUG off, collected static files served by
WhiteNoise), as `make run` and the page tests serve them."""

import re

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_pages_load_their_hashed_static_files(live_server):
    page = httpx.get(f"{live_server.url}/accounts/login/")
    assert page.status_code == 200
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert len(assets) >= 3
    for asset in assets:
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", asset), asset  # a hashed, cacheable name
        response = httpx.get(f"{live_server.url}{asset}")
        assert response.status_code == 200, asset
        assert "max-age=315360000" in response.headers["cache-control"]


def test_an_unknown_address_is_the_sites_404_page_not_the_route_list(live_server):
    response = httpx.get(f"{live_server.url}/no/such/page/")
    assert response.status_code == 404
    assert "No page at this address." in response.text
    assert "/no/such/page/" in response.text
    assert "URLconf" not in response.text and "api/v1/" not in response.text
