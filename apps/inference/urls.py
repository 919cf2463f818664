"""Gateway and history API routes.

`root_urlpatterns` go at the site root, before the pages (Pioneer's, OpenAI's and
Anthropic's clients expect these exact paths); `api_urlpatterns` under /api/v1/.
"""

from django.urls import path

from . import apis
from .gateway import anthropic_api, native, openai_api, responses_api

root_urlpatterns = [
    path("inference", native.inference, name="gateway_inference"),
    path("v1/chat/completions", openai_api.chat_completions, name="gateway_chat_completions"),
    path("v1/completions", openai_api.completions, name="gateway_completions"),
    path("v1/responses", responses_api.responses, name="gateway_responses"),
    path("v1/messages", anthropic_api.messages, name="gateway_messages"),
    path("v1/models", openai_api.models, name="gateway_models"),
    path("v1/models/<path:model_id>", openai_api.models, name="gateway_model"),
    path("inferences", apis.InferenceListApi.as_view(), name="pioneer_inferences"),
    path(
        "inferences/<int:inference_id>", apis.InferenceDetailApi.as_view(), name="pioneer_inference"
    ),
    path(
        "inferences/<int:inference_id>/feedback",
        apis.InferenceFeedbackApi.as_view(),
        name="pioneer_inference_feedback",
    ),
]

api_urlpatterns = [
    path("inferences/", apis.InferenceListApi.as_view(), name="api_inference_list"),
    path(
        "inferences/<int:inference_id>/",
        apis.InferenceDetailApi.as_view(),
        name="api_inference_detail",
    ),
    path(
        "inferences/<int:inference_id>/feedback/",
        apis.InferenceFeedbackApi.as_view(),
        name="api_inference_feedback",
    ),
]
