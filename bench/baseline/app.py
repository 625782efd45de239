"""Baseline for perfect's benchmarks: the christmas-signup webhook as the old
FastAPI server exposed it (legacy-system.md §1.1 and §1.6), written here from
that contract.

It validates the body with the same model (EmailStr, required
assessment_score in 0..100, system counts in 0..8 defaulting to 0, optional
scores in 0..100) and hands the signup to a Starlette BackgroundTask, as the
old handler did. The task only plans the four emails in memory: it does not
call Notion or Prefect and writes nothing to disk, so this baseline is an
upper bound on what the old server could accept, not a copy of its work.

Run as the old image did, with two workers:

    python3 -m uvicorn app:app --host 127.0.0.1 --port 8001 --workers 2

It works with pydantic 1.10 (Debian 12) and pydantic 2.
"""

from collections import deque
from datetime import datetime, timedelta
from typing import Optional

from fastapi import BackgroundTasks, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel, EmailStr, Field, StrictStr

app = FastAPI(title="perfect benchmark baseline", version="1.0.0")
app.add_middleware(
    CORSMiddleware,
    allow_origins=["*"],
    allow_credentials=True,
    allow_methods=["*"],
    allow_headers=["*"],
)

# Delays of E2..E5 in production (legacy §2.2): +24, +72, +96, +120 hours.
DELAYS_HOURS = (24, 72, 96, 120)

# What the background tasks planned, newest last; bounded so a long load
# run does not grow the worker without limit.
PLANNED = deque(maxlen=10_000)


class ChristmasSignup(BaseModel):
    email: EmailStr
    first_name: StrictStr
    business_name: Optional[StrictStr] = None
    assessment_score: int = Field(..., ge=0, le=100)
    red_systems: int = Field(0, ge=0, le=8)
    orange_systems: int = Field(0, ge=0, le=8)
    yellow_systems: int = Field(0, ge=0, le=8)
    green_systems: int = Field(0, ge=0, le=8)
    gps_score: Optional[int] = Field(None, ge=0, le=100)
    money_score: Optional[int] = Field(None, ge=0, le=100)
    weakest_system_1: Optional[StrictStr] = None
    weakest_system_2: Optional[StrictStr] = None
    revenue_leak_total: Optional[int] = None


def segment(red: int, orange: int) -> str:
    """The christmas segment rule (legacy §3.1)."""
    if red >= 2:
        return "CRITICAL"
    if red == 1 or orange >= 2:
        return "URGENT"
    return "OPTIMIZE"


def plan_sequence(signup: dict) -> None:
    """Stands in for the signup flow: plans E2..E5 in memory only."""
    now = datetime.now()
    plan = [
        {"email_number": n + 2, "scheduled_time": (now + timedelta(hours=h)).isoformat()}
        for n, h in enumerate(DELAYS_HOURS)
    ]
    PLANNED.append(
        {
            "email": signup["email"],
            "business_name": signup.get("business_name") or "your business",
            "segment": segment(signup["red_systems"], signup["orange_systems"]),
            "plan": plan,
        }
    )


@app.get("/health")
async def health():
    return {
        "status": "healthy",
        "timestamp": datetime.now().isoformat(),
        "environment": {"testing_mode": "false"},
    }


@app.post("/webhook/christmas-signup")
async def christmas_signup(payload: ChristmasSignup, background_tasks: BackgroundTasks):
    background_tasks.add_task(plan_sequence, payload.dict())
    return {
        "status": "accepted",
        "message": "Christmas signup received and email sequence will begin shortly",
        "email": payload.email,
        "campaign": "Christmas 2025",
        "timestamp": datetime.now().isoformat(),
    }
