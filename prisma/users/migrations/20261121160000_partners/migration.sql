-- CreateEnum
CREATE TYPE "PartnerMode" AS ENUM ('ENFORCE', 'AUDIT');

-- CreateTable
CREATE TABLE "partners" (
    "id" UUID NOT NULL,
    "slug" VARCHAR(40) NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "mode" "PartnerMode" NOT NULL DEFAULT 'ENFORCE',
    "quota_per_minute" INTEGER NOT NULL,
    "quota_per_day" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "partners_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "partner_id" UUID NOT NULL,
    "key_hash" CHAR(64) NOT NULL,
    "prefix" VARCHAR(16) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "partners_slug_key" ON "partners"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");

-- CreateIndex
CREATE INDEX "api_keys_partner_id_idx" ON "api_keys"("partner_id");

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_partner_id_fkey" FOREIGN KEY ("partner_id") REFERENCES "partners"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Hand-written: quotas are positive, slugs name folders.
ALTER TABLE "partners" ADD CONSTRAINT "partners_quota_positive" CHECK ("quota_per_minute" > 0 AND "quota_per_day" > 0);
ALTER TABLE "partners" ADD CONSTRAINT "partners_slug_format" CHECK ("slug" ~ '^[a-z0-9][a-z0-9-]*$');
