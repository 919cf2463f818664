"""REST API for providers (the project comes from the API key or the session)."""

from decimal import Decimal
from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.response import Response

from . import price_services, selectors, services
from .api import ProjectAPIView
from .llm.errors import LLMError
from .models import ModelPrice, Provider, ProviderKind, StructuredOutput, Thinking
from .pricing import PRICE_DECIMAL_PLACES, PRICE_MAX, PRICE_MAX_DIGITS, price_messages

PRICE_UNIT = "Dollars per million tokens, 0 to 10,000 with at most 4 decimal places"


class PriceField(serializers.DecimalField):
    """Dollars per million tokens: a JSON number or a decimal string in, a string out."""

    def __init__(self, field: str, help_text: str, **kwargs: Any) -> None:
        super().__init__(
            max_digits=PRICE_MAX_DIGITS,
            decimal_places=PRICE_DECIMAL_PLACES,
            min_value=Decimal(0),
            max_value=Decimal(PRICE_MAX),
            error_messages=price_messages(field),
            help_text=f"{help_text} {PRICE_UNIT}.",
            **kwargs,
        )


class PriceOutput(serializers.ModelSerializer):
    model = serializers.CharField(help_text="The name the provider knows the model by.")
    input_per_million = PriceField("input_per_million", "Input (prompt) tokens.")
    output_per_million = PriceField(
        "output_per_million", "Output tokens, thinking tokens included."
    )

    class Meta:
        model = ModelPrice
        fields = ["model", "input_per_million", "output_per_million", "updated_at"]


class PriceValues(serializers.Serializer):
    input_per_million = PriceField("input_per_million", "Input (prompt) tokens.")
    output_per_million = PriceField(
        "output_per_million", "Output tokens, thinking tokens included."
    )


class PriceInput(PriceValues):
    model = serializers.CharField(
        max_length=200,
        help_text="The model's name as the provider knows it (`<provider>/model` works too).",
    )


class OptionalBoolean(serializers.BooleanField):
    # DRF reads a boolean missing from form data as False; here missing means "not given"
    # (a new provider then takes its kind's default).
    default_empty_html = empty


class ProviderOutput(serializers.ModelSerializer):
    has_api_key = serializers.SerializerMethodField()
    thinking = serializers.ChoiceField(
        choices=Thinking.choices,
        help_text="How a thinking budget is sent: `anthropic` (thinking.budget_tokens), "
        "`reasoning_effort` (OpenAI reasoning models) or `none` (it cannot think).",
    )
    supports_tools = serializers.BooleanField(
        help_text="Its models can call tools (OpenAI tool_calls, Anthropic tool_use)."
    )
    prices = PriceOutput(
        many=True,
        read_only=True,
        help_text="What its models cost. A model not listed has no price: its calls' "
        "cost is unknown, never 0.",
    )

    class Meta:
        model = Provider
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "default_model",
            "structured_output",
            "requests_per_minute",
            "tokens_per_minute",
            "max_concurrency",
            "timeout_seconds",
            "thinking",
            "supports_tools",
            "prices",
            "has_api_key",
            "created_at",
            "updated_at",
        ]

    def get_has_api_key(self, provider: Provider) -> bool:
        return bool(provider.api_key)


class ProviderInput(serializers.Serializer):
    name = serializers.SlugField(max_length=60)
    kind = serializers.ChoiceField(choices=[ProviderKind.OPENAI, ProviderKind.ANTHROPIC])
    base_url = serializers.URLField(max_length=500)
    api_key = serializers.CharField(max_length=500, required=False, allow_blank=True)
    default_model = serializers.CharField(max_length=200, required=False, allow_blank=True)
    structured_output = serializers.ChoiceField(choices=StructuredOutput.choices, required=False)
    # PositiveIntegerField columns (int4).
    requests_per_minute = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, required=False, allow_null=True
    )
    tokens_per_minute = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, required=False, allow_null=True
    )
    max_concurrency = serializers.IntegerField(min_value=1, max_value=1024, required=False)
    timeout_seconds = serializers.FloatField(min_value=0.1, max_value=3600, required=False)
    thinking = serializers.ChoiceField(
        choices=Thinking.choices,
        required=False,
        help_text="How a thinking budget is sent. Left out of a new provider: `anthropic` "
        "for kind anthropic, `none` for openai.",
    )
    supports_tools = OptionalBoolean(
        required=False,
        help_text="Its models can call tools. Left out of a new provider: true.",
    )
    prices = serializers.ListField(
        child=PriceInput(),
        required=False,
        max_length=price_services.MAX_PRICES,
        help_text="All of its models' prices: replaces the ones it has (a model left out "
        "loses its price). Leave it out to keep them.",
    )


def _split(data: dict[str, Any]) -> tuple[dict[str, Any], str | None, list[dict] | None]:
    data = dict(data)
    return data, data.pop("api_key", None), data.pop("prices", None)


class ProviderListApi(ProjectAPIView):
    @extend_schema(responses=ProviderOutput(many=True))
    def get(self, request: Request) -> Response:
        providers = selectors.provider_list_with_prices(project=self.membership.project)
        return Response(ProviderOutput(providers, many=True).data)

    @extend_schema(request=ProviderInput, responses={201: ProviderOutput})
    def post(self, request: Request) -> Response:
        services.require_editor(self.membership)
        serializer = ProviderInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields, api_key, prices = _split(serializer.validated_data)
        with transaction.atomic():  # a price refused leaves no provider behind
            provider = services.provider_create(
                membership=self.membership, api_key=api_key or "", **fields
            )
            if prices is not None:
                price_services.model_prices_replace(
                    membership=self.membership, provider=provider, prices=prices
                )
        return Response(ProviderOutput(provider).data, status=status.HTTP_201_CREATED)


class ProviderDetailApi(ProjectAPIView):
    def _provider(self, provider_id: int) -> Provider:
        return selectors.provider_get(project=self.membership.project, provider_id=provider_id)

    @extend_schema(responses=ProviderOutput)
    def get(self, request: Request, provider_id: int) -> Response:
        return Response(ProviderOutput(self._provider(provider_id)).data)

    @extend_schema(request=ProviderInput, responses=ProviderOutput)
    def patch(self, request: Request, provider_id: int) -> Response:
        provider = self._provider(provider_id)
        services.require_editor(self.membership)
        serializer = ProviderInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields, api_key, prices = _split(serializer.validated_data)
        with transaction.atomic():
            provider = services.provider_update(
                membership=self.membership, provider=provider, api_key=api_key, **fields
            )
            if prices is not None:
                price_services.model_prices_replace(
                    membership=self.membership, provider=provider, prices=prices
                )
        return Response(ProviderOutput(provider).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, provider_id: int) -> Response:
        provider = self._provider(provider_id)
        services.provider_delete(membership=self.membership, provider=provider)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PriceListApi(ProjectAPIView):
    """What the provider's models cost. A model not listed has no price (unknown cost)."""

    @extend_schema(responses=PriceOutput(many=True))
    def get(self, request: Request, provider_id: int) -> Response:
        provider = selectors.provider_get(project=self.membership.project, provider_id=provider_id)
        return Response(PriceOutput(selectors.price_list(provider=provider), many=True).data)


class PriceDetailApi(ProjectAPIView):
    """One model's price. `model` is the provider's name for it (`<provider>/model` works
    too); percent-encode it in the path, e.g. `meta-llama%2FLlama-3.1-8B`."""

    def _provider(self, provider_id: int) -> Provider:
        return selectors.provider_get(project=self.membership.project, provider_id=provider_id)

    @extend_schema(responses=PriceOutput)
    def get(self, request: Request, provider_id: int, model: str) -> Response:
        price = selectors.price_get(provider=self._provider(provider_id), model=model)
        return Response(PriceOutput(price).data)

    @extend_schema(request=PriceValues, responses=PriceOutput)
    def put(self, request: Request, provider_id: int, model: str) -> Response:
        """Set (add or change) the model's price."""
        provider = self._provider(provider_id)
        services.require_editor(self.membership)
        serializer = PriceValues(data=request.data)
        serializer.is_valid(raise_exception=True)
        price = price_services.model_price_set(
            membership=self.membership, provider=provider, model=model, **serializer.validated_data
        )
        return Response(PriceOutput(price).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, provider_id: int, model: str) -> Response:
        """Remove the model's price: its calls' cost becomes unknown."""
        provider = self._provider(provider_id)
        services.require_editor(self.membership)
        price = selectors.price_get(provider=provider, model=model)
        price_services.model_price_delete(
            membership=self.membership, provider=provider, model=price.model
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProviderTestApi(ProjectAPIView):
    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, provider_id: int) -> Response:
        provider = selectors.provider_get(project=self.membership.project, provider_id=provider_id)
        try:
            models = services.provider_test(membership=self.membership, provider=provider)
        except LLMError as exc:
            return Response({"ok": False, "error": exc.user_message})
        return Response({"ok": True, "models": models})
