import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

# Gateway paths skip Django's middleware stack (see apps/inference/gateway/asgi.py); the
# others read their bodies through a size cap and, past a small allowance, only for a
# caller with a session or an API key (apps/core/bodylimit.py).
from apps.core.bodylimit import limit_bodies  # noqa: E402  (needs Django set up)
from apps.inference.gateway.asgi import with_gateway  # noqa: E402

application = with_gateway(limit_bodies(django_application))
