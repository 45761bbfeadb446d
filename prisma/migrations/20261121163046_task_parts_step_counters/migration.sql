-- AlterTable
ALTER TABLE "curation_tasks" ADD COLUMN     "part" JSONB;

-- AlterTable
ALTER TABLE "step_stats" ADD COLUMN     "counters" JSONB;
