"""Plain views: the signed download URLs (no API key, as pydataframer's presigned URLs
need none) and the data-plane probe (this Seedbed is not a hybrid deployment)."""

from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .files import archive_path, generated_file, unsign
from .models import DataframerRun, RunArchive, SeedFile


def _attachment(content: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def download(request: HttpRequest, token: str) -> HttpResponseBase:
    what = unsign(token)
    if what is None:
        return JsonResponse({"detail": "This download URL is invalid or has expired."}, status=403)
    kind = what.get("kind")
    if kind == "seed_file":
        seed_file = SeedFile.objects.filter(pk=str(what.get("file"))).first()
        if seed_file is None:
            raise Http404("No such file.")
        name = seed_file.path.rsplit("/", 1)[-1]
        return _attachment(bytes(seed_file.content), name, seed_file.file_type)
    run = DataframerRun.objects.select_related("spec__seed_dataset")
    run = run.filter(pk=str(what.get("run")))
    dataframer_run = run.first()
    if dataframer_run is None:
        raise Http404("No such run.")
    if kind == "archive":
        archive = RunArchive.objects.filter(run=dataframer_run).exclude(file="").first()
        if archive is None or not archive_path(archive).exists():
            raise Http404("No such archive.")
        return FileResponse(
            archive_path(archive).open("rb"),
            as_attachment=True,
            filename=f"run-{dataframer_run.id}.zip",
            content_type="application/zip",
        )
    file = generated_file(dataframer_run, str(what.get("file")))
    if file is None:
        raise Http404("No such file.")
    return _attachment(file.content, file.path.rsplit("/", 1)[-1], file.file_type)


@csrf_exempt
@require_POST
def data_plane_token(request: HttpRequest) -> HttpResponse:
    """pydataframer asks this before uploads; `not_hybrid` (a 404) sends it straight here."""
    body = {"code": "not_hybrid", "error": "This Seedbed has no separate data plane."}
    return JsonResponse(body, status=404)
