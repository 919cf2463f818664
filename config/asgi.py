import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

# Gateway paths skip Django's middleware stack (see apps/inference/gateway/asgi.py).
from apps.inference.gateway.asgi import with_gateway  # noqa: E402  (needs Django set up)

application = with_gateway(django_application)
