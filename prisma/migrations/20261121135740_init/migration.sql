-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "Scope" AS ENUM ('read', 'write', 'admin');

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('queued', 'planning', 'running', 'finalizing', 'succeeded', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "TaskStatus" AS ENUM ('pending', 'running', 'succeeded', 'failed', 'cancelled');

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "scopes" "Scope"[],
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sources" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "uri" TEXT NOT NULL,
    "format" TEXT NOT NULL DEFAULT 'auto',
    "textField" TEXT NOT NULL DEFAULT 'text',
    "idField" TEXT NOT NULL DEFAULT 'id',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sources_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pipelines" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "spec" JSONB NOT NULL,
    "specHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pipelines_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "curation_runs" (
    "id" UUID NOT NULL,
    "sourceId" UUID NOT NULL,
    "pipelineId" UUID NOT NULL,
    "datasetName" TEXT NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'queued',
    "fingerprint" TEXT,
    "storeUri" TEXT,
    "error" TEXT,
    "tasksTotal" INTEGER NOT NULL DEFAULT 0,
    "tasksDone" INTEGER NOT NULL DEFAULT 0,
    "bytesTotal" BIGINT NOT NULL DEFAULT 0,
    "bytesDone" BIGINT NOT NULL DEFAULT 0,
    "docsIn" BIGINT NOT NULL DEFAULT 0,
    "docsKept" BIGINT NOT NULL DEFAULT 0,
    "tokensKept" BIGINT NOT NULL DEFAULT 0,
    "stats" JSONB,
    "reusedVersion" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "datasetVersionId" UUID,

    CONSTRAINT "curation_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "curation_tasks" (
    "id" UUID NOT NULL,
    "runId" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "inputUri" TEXT NOT NULL,
    "inputId" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "status" "TaskStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "bytesDone" BIGINT NOT NULL DEFAULT 0,
    "docsIn" BIGINT NOT NULL DEFAULT 0,
    "docsKept" BIGINT NOT NULL DEFAULT 0,
    "tokensKept" BIGINT NOT NULL DEFAULT 0,
    "result" JSONB,
    "error" TEXT,
    "workerId" TEXT,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "curation_tasks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "step_stats" (
    "id" UUID NOT NULL,
    "runId" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "step" TEXT NOT NULL,
    "docsIn" BIGINT NOT NULL,
    "docsOut" BIGINT NOT NULL,
    "tokensOut" BIGINT NOT NULL DEFAULT 0,
    "dropped" JSONB NOT NULL,

    CONSTRAINT "step_stats_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "dataset_versions" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "storeUri" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "tokenizer" TEXT NOT NULL,
    "docs" BIGINT NOT NULL,
    "tokens" BIGINT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "manifest" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dataset_versions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "shards" (
    "id" UUID NOT NULL,
    "datasetVersionId" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "key" TEXT NOT NULL,
    "rows" INTEGER NOT NULL,
    "tokens" BIGINT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "sha256" TEXT NOT NULL,

    CONSTRAINT "shards_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_tokenHash_key" ON "api_tokens"("tokenHash");

-- CreateIndex
CREATE UNIQUE INDEX "sources_name_key" ON "sources"("name");

-- CreateIndex
CREATE UNIQUE INDEX "pipelines_name_version_key" ON "pipelines"("name", "version");

-- CreateIndex
CREATE UNIQUE INDEX "pipelines_name_specHash_key" ON "pipelines"("name", "specHash");

-- CreateIndex
CREATE INDEX "curation_runs_createdAt_idx" ON "curation_runs"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "curation_tasks_runId_index_key" ON "curation_tasks"("runId", "index");

-- CreateIndex
CREATE UNIQUE INDEX "step_stats_runId_position_key" ON "step_stats"("runId", "position");

-- CreateIndex
CREATE UNIQUE INDEX "dataset_versions_fingerprint_key" ON "dataset_versions"("fingerprint");

-- CreateIndex
CREATE INDEX "dataset_versions_name_idx" ON "dataset_versions"("name");

-- CreateIndex
CREATE UNIQUE INDEX "shards_datasetVersionId_position_key" ON "shards"("datasetVersionId", "position");

-- AddForeignKey
ALTER TABLE "curation_runs" ADD CONSTRAINT "curation_runs_sourceId_fkey" FOREIGN KEY ("sourceId") REFERENCES "sources"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "curation_runs" ADD CONSTRAINT "curation_runs_pipelineId_fkey" FOREIGN KEY ("pipelineId") REFERENCES "pipelines"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "curation_runs" ADD CONSTRAINT "curation_runs_datasetVersionId_fkey" FOREIGN KEY ("datasetVersionId") REFERENCES "dataset_versions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "curation_tasks" ADD CONSTRAINT "curation_tasks_runId_fkey" FOREIGN KEY ("runId") REFERENCES "curation_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "step_stats" ADD CONSTRAINT "step_stats_runId_fkey" FOREIGN KEY ("runId") REFERENCES "curation_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "shards" ADD CONSTRAINT "shards_datasetVersionId_fkey" FOREIGN KEY ("datasetVersionId") REFERENCES "dataset_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
