"""Question input and output."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from liveloop.kit.ids import LINES_PATTERN, USER_ID_PATTERN

MAX_QUESTION_CHARS = 1999
Text = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=LINES_PATTERN,
                            description="1 to 1,999 characters")]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a question needs some text")
    return value


class ViewerQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(description="the viewer token, as presence beats carry it")
    text: Text

    _text = field_validator("text")(_not_blank)


class QuestionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[str, Field(pattern=USER_ID_PATTERN)]
    text: Text

    _text = field_validator("text")(_not_blank)


class QuestionRead(BaseModel):
    id: str
    user_id: str
    text: str
    priority: bool = Field(description="the asker held `priority_question` when asking")
    asked_at: str
    status: str = Field(description="open or answered")
    answered_at: str | None


class QuestionsRead(BaseModel):
    questions: list[QuestionRead]
