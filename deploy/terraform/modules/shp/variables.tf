variable "project_id" {
  type        = string
  description = "The Google Cloud project that holds everything this module creates."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID: 6 to 30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "The region of the Cloud Run service and the Cloud SQL instance, such as europe-west1."
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1."
  }
}

variable "location" {
  type        = string
  description = "The location of the buckets and the BigQuery datasets (EU, US or a region). BigQuery loads from a bucket in the same location."
  default     = "EU"

  validation {
    condition     = can(regex("^([A-Z]{2}|[a-z]+-[a-z]+[0-9]+)$", var.location))
    error_message = "location must be a multi-region (EU, US) or a region (europe-west1)."
  }
}

variable "name_prefix" {
  type        = string
  description = "The prefix of every resource's name (service, service account, buckets, secrets, topic)."
  default     = "shp"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3 to 20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels added to every resource that takes labels."
  default     = {}
}

variable "enable_apis" {
  type        = bool
  description = "Enable the Google Cloud APIs the module uses (they stay enabled on destroy)."
  default     = true
}

variable "image" {
  type        = string
  description = "The shp container image (make image; docker push), pinned by tag or digest, such as europe-west1-docker.pkg.dev/PROJECT/shp/shp:v1.2.3."

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?/[^:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[a-f0-9]{64})$", var.image)) && !endswith(var.image, ":latest")
    error_message = "image must name a registry, a repository and a tag other than latest (or a sha256 digest)."
  }
}

# ---- buckets -----------------------------------------------------------------

variable "landing_bucket_name" {
  type        = string
  description = "The landing bucket's name (files arrive here; shp reads them). Default: PROJECT-PREFIX-landing."
  default     = null
}

variable "staging_bucket_name" {
  type        = string
  description = "The staging bucket's name (shp's copies of what it loads). Default: PROJECT-PREFIX-staging."
  default     = null
}

variable "staging_retention_days" {
  type        = number
  description = "Staged objects are deleted this many days after they were written. Keep it above config.yaml's staging.retention and the longest time a failed run may be resumed."
  default     = 14

  validation {
    condition     = var.staging_retention_days > 0 && floor(var.staging_retention_days) == var.staging_retention_days
    error_message = "staging_retention_days must be a whole number of days, more than 0."
  }
}

variable "landing_nearline_after_days" {
  type        = number
  description = "Landing objects move to the NEARLINE storage class this many days after they arrived (they stay readable)."
  default     = 30

  validation {
    condition     = var.landing_nearline_after_days > 0 && floor(var.landing_nearline_after_days) == var.landing_nearline_after_days
    error_message = "landing_nearline_after_days must be a whole number of days, more than 0."
  }
}

variable "landing_noncurrent_retention_days" {
  type        = number
  description = "Overwritten or deleted versions of landing objects are kept this many days (the bucket is versioned), then deleted."
  default     = 30

  validation {
    condition     = var.landing_noncurrent_retention_days > 0 && floor(var.landing_noncurrent_retention_days) == var.landing_noncurrent_retention_days
    error_message = "landing_noncurrent_retention_days must be a whole number of days, more than 0."
  }
}

variable "landing_retention_days" {
  type        = number
  description = "Delete landing objects this many days after they arrived; null keeps them. shp --full-refresh rebuilds a target from the objects still there."
  default     = null

  validation {
    condition     = var.landing_retention_days == null ? true : var.landing_retention_days > 0 && floor(var.landing_retention_days) == var.landing_retention_days
    error_message = "landing_retention_days must be null or a whole number of days, more than 0."
  }
}

variable "landing_notification_prefix" {
  type        = string
  description = "Only objects under this prefix of the landing bucket are announced on Pub/Sub; empty for all."
  default     = ""
}

# ---- BigQuery ----------------------------------------------------------------

variable "dataset_id" {
  type        = string
  description = "The BigQuery dataset of the targets and their __quarantine tables (warehouse.dataset)."
  default     = "analytics"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1023}$", var.dataset_id))
    error_message = "dataset_id must be letters, digits and underscores."
  }
}

variable "shp_dataset_id" {
  type        = string
  description = "The BigQuery dataset of shp's own tables: load ledger, quality results, staging tables (warehouse.shp_dataset)."
  default     = "_shp"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1023}$", var.shp_dataset_id))
    error_message = "shp_dataset_id must be letters, digits and underscores."
  }
}

# ---- Cloud SQL ---------------------------------------------------------------

variable "sql_database_version" {
  type        = string
  description = "The Cloud SQL for PostgreSQL version of the metadata store."
  default     = "POSTGRES_16"

  validation {
    condition     = can(regex("^POSTGRES_1[3-9]$", var.sql_database_version))
    error_message = "sql_database_version must be POSTGRES_13 or later."
  }
}

variable "sql_tier" {
  type        = string
  description = "The Cloud SQL machine type of the metadata store."
  default     = "db-custom-1-3840"
}

variable "sql_availability_type" {
  type        = string
  description = "ZONAL, or REGIONAL for a standby in another zone."
  default     = "ZONAL"

  validation {
    condition     = contains(["ZONAL", "REGIONAL"], var.sql_availability_type)
    error_message = "sql_availability_type must be ZONAL or REGIONAL."
  }
}

variable "sql_deletion_protection" {
  type        = bool
  description = "Protect the metadata store's instance from deletion, by Terraform and in Google Cloud. Set false, apply, then destroy."
  default     = true
}

variable "sql_private_network" {
  type        = string
  description = "A VPC network's self link for a private-IP-only Cloud SQL instance (private services access must be set up on it); null for a public IP reachable only through the Cloud SQL connector."
  default     = null
}

variable "vpc_subnetwork" {
  type        = string
  description = "With sql_private_network: the subnetwork the Cloud Run service sends private traffic through (Direct VPC egress)."
  default     = null
}

variable "sql_database_name" {
  type        = string
  description = "The metadata store's database."
  default     = "shp"
}

variable "sql_user_name" {
  type        = string
  description = "The metadata store's user; its password is generated and kept in Secret Manager."
  default     = "shp"
}

# ---- Cloud Run -----------------------------------------------------------------

variable "ingress" {
  type        = string
  description = "Who may reach the service: INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  default     = "INGRESS_TRAFFIC_ALL"

  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "allow_unauthenticated" {
  type        = bool
  description = "Let anyone reach the service through Cloud Run (allUsers as run.invoker); shp's own API keys and OpenID Connect still guard the API and the web UI. false: callers need run.invoker (invokers)."
  default     = false
}

variable "invokers" {
  type        = list(string)
  description = "Members given roles/run.invoker on the service, such as group:data-eng@example.com."
  default     = []
}

variable "min_instances" {
  type        = number
  description = "Instances kept running: at least 1, since shp serve is the scheduler."
  default     = 1

  validation {
    condition     = var.min_instances >= 1
    error_message = "min_instances must be at least 1: the scheduler runs in the service."
  }
}

variable "max_instances" {
  type        = number
  description = "The most instances. Several shp serve share the metadata store safely (interval claims), but each evaluates alert rules: keep 1 unless the image's instances run with --alerts=false but one."
  default     = 1

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 100
    error_message = "max_instances must be between 1 and 100."
  }
}

variable "cpu" {
  type        = string
  description = "CPUs of the shp container (always allocated)."
  default     = "1"
}

variable "memory" {
  type        = string
  description = "Memory of the shp container."
  default     = "2Gi"
}

variable "run_deletion_protection" {
  type        = bool
  description = "Protect the Cloud Run service from terraform destroy."
  default     = true
}

variable "gmp_sidecar_image" {
  type        = string
  description = "The Managed Service for Prometheus collector run beside shp: it scrapes localhost:8080/metrics. Pinned; see the sidecar's release notes before raising it."
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"

  validation {
    condition     = !endswith(var.gmp_sidecar_image, ":latest")
    error_message = "gmp_sidecar_image must be pinned, not latest."
  }
}

# ---- secrets -------------------------------------------------------------------

variable "teams_webhook_url" {
  type        = string
  description = "A Microsoft Teams Workflows webhook URL, kept in Secret Manager and given to shp as TEAMS_WEBHOOK_URL (monitoring.yaml's teams receiver); empty for none. It is in the Terraform state: keep the state private."
  default     = ""
  sensitive   = true
}

variable "api_key_secret_accessors" {
  type        = list(string)
  description = "Members who may read the admin API key secret (the key shp apikey create printed), such as group:platform@example.com. shp itself does not read it."
  default     = []
}

# ---- monitoring ----------------------------------------------------------------

variable "alert_notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channels (projects/P/notificationChannels/ID) the alert policies notify."
  default     = []
}

variable "data_stale_after_seconds" {
  type        = number
  description = "A pipeline without a successful run for this long is stale (shp's data_stale: twice its schedule's interval; 172800 for daily pipelines)."
  default     = 172800

  validation {
    condition     = var.data_stale_after_seconds > 0
    error_message = "data_stale_after_seconds must be more than 0."
  }
}

variable "data_stale_after_seconds_by_pipeline" {
  type        = map(number)
  description = "Per pipeline, another staleness limit in seconds (what shp export prometheus-rules writes for ShpDataStale)."
  default     = {}

  validation {
    condition     = alltrue([for s in values(var.data_stale_after_seconds_by_pipeline) : s > 0])
    error_message = "Every limit in data_stale_after_seconds_by_pipeline must be more than 0."
  }
}
