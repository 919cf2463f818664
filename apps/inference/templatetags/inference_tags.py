from django import template

from apps.inference.forms import TASK_NAMES

register = template.Library()


@register.filter
def call_task(task: str) -> str:
    """A gateway call's task as the pages name it ("chat" → "Chat completion (OpenAI)")."""
    return TASK_NAMES.get(task, task)
