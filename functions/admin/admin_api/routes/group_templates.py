"""``/admin/group-welcome-templates``: the group welcome templates WeCom keeps, mirrored in the table."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from admin_api.models.common import error_responses
from admin_api.models.group_templates import TEMPLATE_ID_MAX, Reconcile, TemplateCreate, TemplateEdit
from admin_api.models.responses import DriftReport, Template, TemplateDeleted, TemplateList
from admin_api.routes.common import as_sent, no_content, ok, success
from wecom_bundle import runtime

router = Router()
BASE = "/admin/group-welcome-templates"
TemplateId = Annotated[
    str,
    Path(
        pattern=rf"^[ -.0-~]{{1,{TEMPLATE_ID_MAX}}}$",  # printable ASCII but "/" (validate_template_id's rule)
        description=f"WeCom's template id: 1 to {TEMPLATE_ID_MAX} printable ASCII",
    ),
]
WECOM = (400, 403, 404, 409, 503)


@router.post(BASE, responses={201: success("created", Template), **error_responses(*WECOM)})
def create_group_template(body: Annotated[TemplateCreate, Body()]):
    return ok(201, runtime.group_templates().create_template(as_sent(body)))


@router.get(BASE, responses={200: success("the templates", TemplateList), **error_responses(503)})
def list_group_templates():
    return ok(200, runtime.group_templates().list_templates())


@router.post(
    f"{BASE}/reconcile",
    responses={200: success("the drift report", DriftReport), **error_responses(400, 503)},
)
def reconcile_group_templates(body: Annotated[Reconcile | None, Body()] = None):
    return ok(200, runtime.group_template_reconcile().reconcile(as_sent(body)))


@router.get(
    f"{BASE}/<template_id>", responses={200: success("the template", Template), **error_responses(*WECOM)}
)
def get_group_template(template_id: TemplateId):
    return ok(200, runtime.group_templates().get_template(template_id))


@router.put(f"{BASE}/<template_id>", responses={200: success("edited", Template), **error_responses(*WECOM)})
def edit_group_template(template_id: TemplateId, body: Annotated[TemplateEdit, Body()]):
    return ok(200, runtime.group_templates().edit_template(template_id, as_sent(body)))


@router.delete(
    f"{BASE}/<template_id>",
    responses={
        200: success("deleted here, WeCom's copy gone", TemplateDeleted),
        204: success("deleted"),
        **error_responses(*WECOM),
    },
)
def delete_group_template(template_id: TemplateId):
    doc = runtime.group_templates().delete_template(template_id)
    return no_content() if doc is None else ok(200, doc)
