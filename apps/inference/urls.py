"""Gateway and history API routes.

`root_urlpatterns` go at the site root, before the pages (Pioneer's, OpenAI's and
Anthropic's clients expect these exact paths); `api_urlpatterns` under /api/v1/.
"""

from django.urls import path

from . import apis, apis_labelling_jobs, apis_promote
from .gateway import anthropic_api, native, openai_api, openapi, responses_api
from .gateway.openapi import documented

# The gateway's views, unwrapped (they are on the latency-critical path), each marked with
# the DRF class that describes it in the OpenAPI schema.
inference = documented(native.inference, openapi.NativeInference)
chat_completions = documented(openai_api.chat_completions, openapi.ChatCompletions)
completions = documented(openai_api.completions, openapi.Completions)
responses = documented(responses_api.responses, openapi.Responses)
messages = documented(anthropic_api.messages, openapi.Messages)
models = documented(openai_api.models, openapi.Models)

root_urlpatterns = [
    path("inference", inference, name="gateway_inference"),
    path("v1/chat/completions", chat_completions, name="gateway_chat_completions"),
    path("v1/completions", completions, name="gateway_completions"),
    path("v1/responses", responses, name="gateway_responses"),
    path("v1/messages", messages, name="gateway_messages"),
    path("v1/models", models, name="gateway_models"),
    path("v1/models/<path:model_id>", models, name="gateway_model"),
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
        "inferences/promote/",
        apis_promote.InferencePromoteApi.as_view(),
        name="api_inference_promote",
    ),
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
    path(
        "labelling-jobs/",
        apis_labelling_jobs.LabellingJobListApi.as_view(),
        name="api_labelling_job_list",
    ),
    path(
        "labelling-jobs/<int:job_id>/",
        apis_labelling_jobs.LabellingJobDetailApi.as_view(),
        name="api_labelling_job_detail",
    ),
    path(
        "labelling-jobs/<int:job_id>/cancel/",
        apis_labelling_jobs.LabellingJobCancelApi.as_view(),
        name="api_labelling_job_cancel",
    ),
]
