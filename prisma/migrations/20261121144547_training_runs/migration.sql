-- CreateEnum
CREATE TYPE "TrainingRunStatus" AS ENUM ('queued', 'starting', 'running', 'succeeded', 'failed', 'cancelled');

-- CreateTable
CREATE TABLE "training_runs" (
    "id" UUID NOT NULL,
    "experimentId" UUID NOT NULL,
    "stage" TEXT NOT NULL,
    "mixtureId" UUID NOT NULL,
    "planFingerprint" TEXT NOT NULL,
    "backend" TEXT NOT NULL,
    "resources" JSONB NOT NULL,
    "retry" JSONB NOT NULL,
    "overrides" JSONB NOT NULL,
    "status" "TrainingRunStatus" NOT NULL DEFAULT 'queued',
    "reason" TEXT,
    "tokenHash" TEXT,
    "jobSpec" JSONB,
    "workDir" TEXT,
    "logPath" TEXT,
    "checkpointDir" TEXT,
    "externalId" TEXT,
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "preemptions" INTEGER NOT NULL DEFAULT 0,
    "exitCode" INTEGER,
    "lastStep" INTEGER NOT NULL DEFAULT 0,
    "totalSteps" INTEGER,
    "loss" DOUBLE PRECISION,
    "lr" DOUBLE PRECISION,
    "tokensPerS" DOUBLE PRECISION,
    "mfu" DOUBLE PRECISION,
    "tokensConsumed" JSONB NOT NULL DEFAULT '{}',
    "heartbeatAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "training_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "run_progress" (
    "runId" UUID NOT NULL,
    "step" INTEGER NOT NULL,
    "tokensConsumed" JSONB NOT NULL,
    "loss" DOUBLE PRECISION,
    "lr" DOUBLE PRECISION,
    "tokensPerS" DOUBLE PRECISION,
    "mfu" DOUBLE PRECISION,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "run_progress_pkey" PRIMARY KEY ("runId","step")
);

-- CreateTable
CREATE TABLE "run_events" (
    "id" BIGSERIAL NOT NULL,
    "runId" UUID NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "status" "TrainingRunStatus" NOT NULL,
    "reason" TEXT,

    CONSTRAINT "run_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "token_ledger" (
    "experimentId" UUID NOT NULL,
    "stage" TEXT NOT NULL,
    "phase" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "planned" BIGINT NOT NULL,
    "consumed" BIGINT NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "token_ledger_pkey" PRIMARY KEY ("experimentId","stage","phase","source")
);

-- CreateIndex
CREATE UNIQUE INDEX "training_runs_tokenHash_key" ON "training_runs"("tokenHash");

-- CreateIndex
CREATE INDEX "training_runs_experimentId_createdAt_idx" ON "training_runs"("experimentId", "createdAt");

-- CreateIndex
CREATE INDEX "training_runs_status_idx" ON "training_runs"("status");

-- CreateIndex
CREATE INDEX "run_events_runId_at_idx" ON "run_events"("runId", "at");

-- AddForeignKey
ALTER TABLE "training_runs" ADD CONSTRAINT "training_runs_experimentId_fkey" FOREIGN KEY ("experimentId") REFERENCES "experiments"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_progress" ADD CONSTRAINT "run_progress_runId_fkey" FOREIGN KEY ("runId") REFERENCES "training_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_events" ADD CONSTRAINT "run_events_runId_fkey" FOREIGN KEY ("runId") REFERENCES "training_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "token_ledger" ADD CONSTRAINT "token_ledger_experimentId_fkey" FOREIGN KEY ("experimentId") REFERENCES "experiments"("id") ON DELETE CASCADE ON UPDATE CASCADE;
