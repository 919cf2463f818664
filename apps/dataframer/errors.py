"""Errors of the Dataframer API: DRF exceptions, so the project's handler renders them as
JSON with their status (400 naming the field, 404, 409)."""

from typing import Any

from rest_framework.exceptions import APIException


class ApiError(APIException):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(detail=detail)
        self.status_code = status


def bad_request(field: str, message: str) -> ApiError:
    return ApiError(400, {field: [message]})


def not_found(what: str) -> ApiError:
    return ApiError(404, {"detail": f"No such {what}."})


def conflict(message: str) -> ApiError:
    return ApiError(409, {"detail": message})
