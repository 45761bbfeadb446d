-- CreateTable
CREATE TABLE "mixtures" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "seed" BIGINT NOT NULL,
    "seqLen" INTEGER NOT NULL,
    "tokenizer" TEXT NOT NULL,
    "spec" JSONB NOT NULL,
    "plan" JSONB NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "tokens" BIGINT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mixtures_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "mixture_components" (
    "id" UUID NOT NULL,
    "mixtureId" UUID NOT NULL,
    "phase" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "datasetVersionId" UUID NOT NULL,
    "form" TEXT NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "maxEpochs" DOUBLE PRECISION NOT NULL,
    "tokens" BIGINT NOT NULL,
    "epochs" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "mixture_components_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "experiments" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "recipe" JSONB NOT NULL,
    "recipeHash" TEXT NOT NULL,
    "model" JSONB NOT NULL,
    "training" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "experiments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "experiment_mixtures" (
    "experimentId" UUID NOT NULL,
    "mixtureId" UUID NOT NULL,
    "stage" TEXT NOT NULL,
    "position" INTEGER NOT NULL,

    CONSTRAINT "experiment_mixtures_pkey" PRIMARY KEY ("experimentId","position")
);

-- CreateIndex
CREATE UNIQUE INDEX "mixtures_name_key" ON "mixtures"("name");

-- CreateIndex
CREATE INDEX "mixtures_fingerprint_idx" ON "mixtures"("fingerprint");

-- CreateIndex
CREATE INDEX "mixture_components_datasetVersionId_idx" ON "mixture_components"("datasetVersionId");

-- CreateIndex
CREATE UNIQUE INDEX "mixture_components_mixtureId_phase_position_key" ON "mixture_components"("mixtureId", "phase", "position");

-- CreateIndex
CREATE UNIQUE INDEX "experiments_name_key" ON "experiments"("name");

-- AddForeignKey
ALTER TABLE "mixture_components" ADD CONSTRAINT "mixture_components_mixtureId_fkey" FOREIGN KEY ("mixtureId") REFERENCES "mixtures"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "mixture_components" ADD CONSTRAINT "mixture_components_datasetVersionId_fkey" FOREIGN KEY ("datasetVersionId") REFERENCES "dataset_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "experiment_mixtures" ADD CONSTRAINT "experiment_mixtures_experimentId_fkey" FOREIGN KEY ("experimentId") REFERENCES "experiments"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "experiment_mixtures" ADD CONSTRAINT "experiment_mixtures_mixtureId_fkey" FOREIGN KEY ("mixtureId") REFERENCES "mixtures"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
