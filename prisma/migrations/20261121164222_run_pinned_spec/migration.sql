-- AlterTable
ALTER TABLE "curation_runs" ADD COLUMN     "pinnedSpec" JSONB;
