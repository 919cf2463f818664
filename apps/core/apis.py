"""REST API for providers (the project comes from the API key or the session)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from . import selectors, services
from .api import ProjectAPIView
from .llm.errors import LLMError
from .models import Provider, ProviderKind, StructuredOutput


class ProviderOutput(serializers.ModelSerializer):
    has_api_key = serializers.SerializerMethodField()

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


def _split_key(data: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    data = dict(data)
    return data, data.pop("api_key", None)


class ProviderListApi(ProjectAPIView):
    @extend_schema(responses=ProviderOutput(many=True))
    def get(self, request: Request) -> Response:
        providers = selectors.provider_list(project=self.membership.project)
        return Response(ProviderOutput(providers, many=True).data)

    @extend_schema(request=ProviderInput, responses={201: ProviderOutput})
    def post(self, request: Request) -> Response:
        services.require_editor(self.membership)
        serializer = ProviderInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields, api_key = _split_key(serializer.validated_data)
        provider = services.provider_create(
            membership=self.membership, api_key=api_key or "", **fields
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
        fields, api_key = _split_key(serializer.validated_data)
        provider = services.provider_update(
            membership=self.membership, provider=provider, api_key=api_key, **fields
        )
        return Response(ProviderOutput(provider).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, provider_id: int) -> Response:
        provider = self._provider(provider_id)
        services.provider_delete(membership=self.membership, provider=provider)
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
