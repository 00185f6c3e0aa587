"""Job store on DynamoDB: one item per job, conditional status updates.

Every status change is an UpdateItem with a ConditionExpression on the
current status. Statuses only move forward (queued, running, then a final
one), so reading the item and writing it back under that condition is safe.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from botocore.exceptions import ClientError

from backend.errors import TransitionRejected
from backend.jobs.model import (
    Job,
    JobStatus,
    check_transition,
    job_from_record,
    job_to_record,
)
from backend.settings import Settings
from backend.stores.aws import UNAVAILABLE_ERRORS, aws_client, error_code, unavailable
from backend.stores.base import JobChanges
from backend.stores.sqlite_jobs import apply_changes

logger = logging.getLogger(__name__)

KEY = "job_id"
TTL_ATTRIBUTE = "expires_at"


class DynamoJobStore:
    """Jobs in one DynamoDB table keyed by `job_id`."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self._table = settings.dynamodb_table
        self._ttl = settings.job_ttl_seconds
        self._client = client or aws_client(
            "dynamodb", settings, settings.dynamodb_endpoint_url
        )

    def create(self, job: Job) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(job),
                ConditionExpression="attribute_not_exists(#key)",
                ExpressionAttributeNames={"#key": KEY},
            )
        except UNAVAILABLE_ERRORS as error:
            raise unavailable("DynamoDB", error) from error

    def get(self, job_id: str, *, consistent: bool = True) -> Job | None:
        try:
            answer = self._client.get_item(
                TableName=self._table,
                Key={KEY: {"S": job_id}},
                ConsistentRead=consistent,
            )
        except UNAVAILABLE_ERRORS as error:
            raise unavailable("DynamoDB", error) from error
        item = answer.get("Item")
        return None if item is None else _job(item)

    def transition(
        self,
        job_id: str,
        expected: JobStatus,
        new: JobStatus,
        changes: JobChanges | None = None,
    ) -> Job:
        check_transition(expected, new)
        current = self.get(job_id, consistent=True)
        if current is None or current.status is not expected:
            raise TransitionRejected(
                job_id, expected.value, current.status.value if current else None
            )
        job = apply_changes(current, new, changes)
        try:
            self._client.update_item(
                TableName=self._table,
                Key={KEY: {"S": job_id}},
                UpdateExpression="SET #status = :new, #record = :record, "
                "#updated = :updated",
                ConditionExpression="#status = :expected",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#record": "record",
                    "#updated": "updated_at",
                },
                ExpressionAttributeValues={
                    ":new": {"S": new.value},
                    ":expected": {"S": expected.value},
                    ":record": {"S": _dump(job)},
                    ":updated": {"N": repr(job.updated_at)},
                },
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                actual = self.get(job_id, consistent=True)
                raise TransitionRejected(
                    job_id, expected.value, actual.status.value if actual else None
                ) from error
            raise unavailable("DynamoDB", error) from error
        except UNAVAILABLE_ERRORS as error:
            raise unavailable("DynamoDB", error) from error
        return job

    def list_by_status(self, status: JobStatus) -> list[Job]:
        # NOTE: a scan reads the whole table; it runs only at startup to find
        # interrupted jobs. A large table wants a status index instead.
        jobs: list[Job] = []
        paginator = self._client.get_paginator("scan")
        try:
            for page in paginator.paginate(
                TableName=self._table,
                FilterExpression="#status = :status",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":status": {"S": status.value}},
                ConsistentRead=True,
            ):
                jobs.extend(_job(item) for item in page.get("Items", []))
        except UNAVAILABLE_ERRORS as error:
            raise unavailable("DynamoDB", error) from error
        return jobs

    def close(self) -> None:
        self._client.close()

    def _item(self, job: Job) -> dict[str, Any]:
        return {
            KEY: {"S": job.id},
            "status": {"S": job.status.value},
            "owner": {"S": job.owner},
            "updated_at": {"N": repr(job.updated_at)},
            "record": {"S": _dump(job)},
            TTL_ATTRIBUTE: {"N": str(int(time.time()) + self._ttl)},
        }


def create_table(client: Any, table: str) -> bool:
    """Create the jobs table with on-demand capacity and TTL; False if it exists."""
    try:
        client.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as error:
        if error_code(error) == "ResourceInUseException":
            return False
        raise
    client.get_waiter("table_exists").wait(TableName=table)
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    return True


def _job(item: dict[str, Any]) -> Job:
    return job_from_record(json.loads(item["record"]["S"]))


def _dump(job: Job) -> str:
    return json.dumps(job_to_record(job), ensure_ascii=False)
