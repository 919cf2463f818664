"""The gateway's request and response bodies, as serializers for the OpenAPI schema only.

The gateway views parse their JSON by hand (see messages.py, schema.py): nothing here
validates a request. Limits are those the views enforce.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .messages import MAX_MESSAGES, OPENAI_ROLES, TEXT_PART_TYPES
from .schema import MAX_LABELS, MAX_NAME, MAX_TASKS, MAX_TEXT

STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
TEXT_PART = {
    "type": "object",
    "properties": {"type": {"type": "string", "enum": list(TEXT_PART_TYPES)}, "text": STRING},
    "required": ["type", "text"],
}
CONTENT = {
    "oneOf": [STRING, {"type": "array", "items": {"oneOf": [STRING, TEXT_PART]}}],
    "description": "A string, or a list of text parts (other parts are refused).",
}
INPUT_MESSAGE = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["message"]},
        "role": {"type": "string", "enum": list(OPENAI_ROLES)},
        "content": CONTENT,
    },
    "required": ["role", "content"],
}


@extend_schema_field(CONTENT)
class TextContent(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "oneOf": [STRING, {"type": "array", "items": INPUT_MESSAGE}],
        "description": "A string, or a list of messages (other items are refused).",
    }
)
class ResponseInput(serializers.JSONField):
    pass


@extend_schema_field({"oneOf": [STRING, {**STRINGS, "maxItems": 16}]})
class Stops(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "oneOf": [STRINGS, {"type": "object", "additionalProperties": STRING}],
        "description": "Names, or {name: description}.",
    }
)
class Names(serializers.JSONField):
    pass


def _number(high: float, help_text: str = "") -> serializers.FloatField:
    return serializers.FloatField(min_value=0, max_value=high, required=False, help_text=help_text)


def _tokens(help_text: str = "") -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1, max_value=1_000_000, required=False, help_text=help_text
    )


def _always(value: str) -> serializers.CharField:
    # Not a one-value enum: drf-spectacular would make each one a component.
    return serializers.CharField(help_text=f'Always "{value}".')


def _conversation(message: serializers.Serializer, **kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=message, min_length=1, max_length=MAX_MESSAGES, **kwargs)


def _training_job() -> serializers.CharField:
    return serializers.CharField(
        max_length=200,
        required=False,
        help_text="Recorded with the call (filter the history by it); "
        "the X-Training-Job-Id header works as well.",
    )


# ---- the native extraction schema ------------------------------------------------------


class ClassificationTask(serializers.Serializer):
    task = serializers.CharField(max_length=MAX_NAME)
    labels = Names()
    multi_label = serializers.BooleanField(default=False)


class ExtractionSchema(serializers.Serializer):
    entities = Names(required=False, help_text=f"Entity labels (at most {MAX_LABELS}).")
    classifications = serializers.ListField(
        child=ClassificationTask(), required=False, min_length=1, max_length=MAX_TASKS
    )
    structures = serializers.DictField(
        required=False,
        help_text='{name: [field, ...]} or {name: {"description", "fields": '
        '[{"name", "dtype": "str" | "list", "choices", "description"}]}}.',
    )
    relations = serializers.ListField(
        required=False,
        help_text='Relation names, or [{"name", "head", "tail", "description"}].',
    )


# ---- OpenAI-compatible -----------------------------------------------------------------


class OpenAIChatMessage(serializers.Serializer):
    role = serializers.ChoiceField(list(OPENAI_ROLES))
    content = TextContent()


class StreamOptions(serializers.Serializer):
    include_usage = serializers.BooleanField(default=False)


class OpenAISampling(serializers.Serializer):
    model = serializers.CharField(help_text="A model id or alias from GET /v1/models.")
    stream = serializers.BooleanField(default=False, help_text="Answer as text/event-stream.")
    stream_options = StreamOptions(required=False)
    temperature = _number(2)
    top_p = _number(1)
    max_tokens = _tokens()
    max_completion_tokens = _tokens("Same as max_tokens.")
    stop = Stops(required=False)
    n = serializers.IntegerField(min_value=1, max_value=1, required=False)
    response_format = serializers.DictField(
        required=False,
        help_text='{"type": "json_object"} or {"type": "json_schema", "json_schema": '
        '{"schema": {...}}}: the answer follows the schema.',
    )
    training_job_id = _training_job()


class ChatCompletionRequest(OpenAISampling):
    messages = _conversation(OpenAIChatMessage())
    schema = ExtractionSchema(
        required=False,
        help_text="Seedbed's extension (the OpenAI SDK's extra_body): extract from the last "
        "user message instead; the message content is the native /inference result as JSON. "
        "Not with stream.",
    )
    threshold = _number(1, "With schema: the minimum confidence kept (default 0.5).")


class CompletionRequest(OpenAISampling):
    prompt = serializers.CharField(help_text="One prompt (a list holding exactly one works too).")


class OpenAIUsage(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class AssistantMessage(serializers.Serializer):
    role = _always("assistant")
    content = serializers.CharField()
    refusal = serializers.CharField(allow_null=True)


class ChatChoice(serializers.Serializer):
    index = serializers.IntegerField()
    message = AssistantMessage()
    logprobs = serializers.JSONField(allow_null=True)
    finish_reason = serializers.CharField(help_text="stop or length.")


class ChatCompletion(serializers.Serializer):
    id = serializers.CharField(help_text="chatcmpl-<history id>.")
    object = _always("chat.completion")
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = ChatChoice(many=True)
    usage = OpenAIUsage()


class CompletionChoice(serializers.Serializer):
    text = serializers.CharField()
    index = serializers.IntegerField()
    logprobs = serializers.JSONField(allow_null=True)
    finish_reason = serializers.CharField()


class TextCompletion(serializers.Serializer):
    id = serializers.CharField(help_text="cmpl-<history id>.")
    object = _always("text_completion")
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = CompletionChoice(many=True)
    usage = OpenAIUsage()


class ResponseRequest(serializers.Serializer):
    model = serializers.CharField(help_text="A model id or alias from GET /v1/models.")
    input = ResponseInput()
    instructions = serializers.CharField(required=False)
    stream = serializers.BooleanField(default=False)
    temperature = _number(2)
    top_p = _number(1)
    max_output_tokens = _tokens()
    text = serializers.DictField(
        required=False,
        help_text='{"format": {"type": "json_schema", "schema": {...}}}: structured output.',
    )
    training_job_id = _training_job()


class OpenAIResponse(serializers.Serializer):
    id = serializers.CharField(help_text="resp_<history id>.")
    object = _always("response")
    created_at = serializers.IntegerField()
    status = serializers.CharField()
    model = serializers.CharField()
    output = serializers.ListField(
        child=serializers.DictField(),
        help_text='One message item: {"type": "message", "role": "assistant", '
        '"content": [{"type": "output_text", "text"}]}.',
    )
    usage = serializers.DictField(allow_null=True)


class ModelMetadata(serializers.Serializer):
    uuid = serializers.UUIDField(
        help_text="The model's stable UUID: uuid5 of its id (the Collinear API's model_id)."
    )


class OpenAIModel(serializers.Serializer):
    id = serializers.CharField()
    object = _always("model")
    created = serializers.IntegerField()
    owned_by = serializers.CharField(help_text="The provider's name.")
    metadata = ModelMetadata()


class OpenAIModelList(serializers.Serializer):
    object = _always("list")
    data = OpenAIModel(many=True)  # type: ignore[assignment]  # a field, not Serializer.data


class OpenAIErrorDetail(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class OpenAIError(serializers.Serializer):
    error = OpenAIErrorDetail()


# ---- Anthropic-compatible --------------------------------------------------------------


class AnthropicInputMessage(serializers.Serializer):
    role = serializers.ChoiceField(["user", "assistant"])
    content = TextContent()


class MessagesRequest(serializers.Serializer):
    model = serializers.CharField(help_text="A model id or alias from GET /v1/models.")
    messages = _conversation(AnthropicInputMessage())
    system = TextContent(required=False)
    max_tokens = serializers.IntegerField(min_value=1, max_value=1_000_000)
    stream = serializers.BooleanField(default=False, help_text="Answer as text/event-stream.")
    temperature = _number(1)
    top_p = _number(1)
    stop_sequences = Stops(required=False)
    training_job_id = _training_job()


class TextBlock(serializers.Serializer):
    type = _always("text")
    text = serializers.CharField()


class AnthropicUsage(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()


class AnthropicMessage(serializers.Serializer):
    id = serializers.CharField(help_text="msg_<history id>.")
    type = _always("message")
    role = _always("assistant")
    model = serializers.CharField()
    content = TextBlock(many=True)
    stop_reason = serializers.CharField(help_text="end_turn or max_tokens.")
    stop_sequence = serializers.CharField(allow_null=True)
    usage = AnthropicUsage()


class AnthropicModel(serializers.Serializer):
    type = _always("model")
    id = serializers.CharField()
    display_name = serializers.CharField()
    created_at = serializers.DateTimeField()


class AnthropicModelList(serializers.Serializer):
    data = AnthropicModel(many=True)  # type: ignore[assignment]  # a field, not Serializer.data
    has_more = serializers.BooleanField()
    first_id = serializers.CharField(allow_null=True)
    last_id = serializers.CharField(allow_null=True)


class AnthropicErrorDetail(serializers.Serializer):
    type = serializers.CharField()
    message = serializers.CharField()


class AnthropicError(serializers.Serializer):
    type = _always("error")
    error = AnthropicErrorDetail()


# ---- native /inference -----------------------------------------------------------------


class InferenceRequest(serializers.Serializer):
    model_id = serializers.CharField(help_text="A model id or alias from GET /v1/models.")
    task = serializers.ChoiceField(["extract", "generate"], default="extract")
    text = serializers.CharField(
        required=False,
        max_length=MAX_TEXT,
        help_text="The text to extract from (generate: the prompt, if no messages).",
    )
    schema = ExtractionSchema(required=False, help_text="extract: what to find.")
    threshold = _number(1, "extract: the minimum confidence kept (default 0.5).")
    messages = _conversation(OpenAIChatMessage(), required=False)
    temperature = _number(2)
    top_p = _number(1)
    max_tokens = _tokens("generate: also max_new_tokens.")
    training_job_id = _training_job()


class InferenceUsage(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class TextSpan(serializers.Serializer):
    text = serializers.CharField()
    start = serializers.IntegerField()
    end = serializers.IntegerField()


class ExtractedEntity(TextSpan):
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    confidence = serializers.FloatField()


class ExtractedRelation(serializers.Serializer):
    head = TextSpan()
    tail = TextSpan()
    type = serializers.CharField()
    confidence = serializers.FloatField()


class ClassificationResult(serializers.Serializer):
    task = serializers.CharField()
    label = serializers.CharField(required=False)  # type: ignore[assignment]  # single-label
    labels = serializers.ListField(child=serializers.CharField(), required=False)  # multi-label
    confidence = serializers.FloatField()


class InferenceExtraction(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="The history id.")
    model_id = serializers.CharField()
    entities = ExtractedEntity(many=True)
    classifications = ClassificationResult(many=True)
    structures = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text="{structure name: [{field: value}]}.",
    )
    relations = ExtractedRelation(many=True)
    usage = InferenceUsage()


class InferenceGeneration(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="The history id.")
    model_id = serializers.CharField()
    output = serializers.CharField()
    usage = InferenceUsage()


class InferenceError(serializers.Serializer):
    detail = serializers.CharField()
    field = serializers.CharField(required=False, help_text="The field at fault, if one is.")
    code = serializers.CharField(required=False)
