# shp serve on Cloud Run: the scheduler, the REST API, the web UI and
# /metrics on port 8080, always one instance with its CPU always allocated
# (the scheduler works between requests), and the Managed Service for
# Prometheus sidecar that scrapes /metrics into Cloud Monitoring.

locals {
  # What config.yaml of the image's project reads (deploy/project), besides
  # the secrets below.
  shp_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    SHP_LANDING_BUCKET   = google_storage_bucket.landing.name
    SHP_STAGING_BUCKET   = google_storage_bucket.staging.name
    SHP_BQ_DATASET       = google_bigquery_dataset.targets.dataset_id
    SHP_BQ_SHP_DATASET   = google_bigquery_dataset.shp.dataset_id
    SHP_BQ_LOCATION      = var.location
    # The subscription of landing objects shp serve runs pipelines from.
    SHP_EVENTS_SUBSCRIPTION = google_pubsub_subscription.landing.id
  }

  # Environment variables from Secret Manager: name => secret.
  # TEAMS_WEBHOOK_URL only when the secret has a version.
  shp_secret_env = {
    for name, secret in {
      SHP_METADATA_DSN  = google_secret_manager_secret.metadata_dsn.secret_id
      TEAMS_WEBHOOK_URL = google_secret_manager_secret.teams_webhook.secret_id
    } : name => secret if name != "TEAMS_WEBHOOK_URL" || local.teams_enabled
  }
}

resource "google_cloud_run_v2_service" "shp" {
  project             = var.project_id
  name                = var.name_prefix
  location            = var.region
  description         = "shp serve: pipelines' scheduler, REST API, web UI and /metrics"
  ingress             = var.ingress
  deletion_protection = var.run_deletion_protection
  labels              = local.labels

  template {
    service_account                  = google_service_account.shp.email
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    max_instance_request_concurrency = 80
    timeout                          = "300s"
    labels                           = local.labels

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    # The Cloud SQL connector: a Unix socket per instance under /cloudsql.
    dynamic "volumes" {
      for_each = local.private_sql ? [] : [google_sql_database_instance.metadata.connection_name]
      content {
        name = "cloudsql"
        cloud_sql_instance {
          instances = [volumes.value]
        }
      }
    }

    # With a private-IP instance: Direct VPC egress for private ranges.
    dynamic "vpc_access" {
      for_each = local.private_sql ? [var.sql_private_network] : []
      content {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = vpc_access.value
          subnetwork = var.vpc_subnetwork
        }
      }
    }

    containers {
      name  = "shp"
      image = var.image
      # The image's CMD, with Cloud Logging's JSON lines.
      args = ["serve", "--config", "/etc/shp", "--api-listen", "0.0.0.0:8080", "--log-format", "json"]

      ports {
        name           = "http1"
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = false
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.shp_env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = local.shp_secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      dynamic "volume_mounts" {
        for_each = local.private_sql ? [] : ["cloudsql"]
        content {
          name       = volume_mounts.value
          mount_path = "/cloudsql"
        }
      }

      # Ready once the metadata store answers (GET /readyz); migrations run
      # at start, so allow two minutes.
      startup_probe {
        initial_delay_seconds = 0
        period_seconds        = 5
        timeout_seconds       = 3
        failure_threshold     = 24
        http_get {
          path = "/readyz"
          port = 8080
        }
      }

      # Alive (GET /healthz); a process that stops answering is restarted.
      liveness_probe {
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
        http_get {
          path = "/healthz"
          port = 8080
        }
      }
    }

    # Managed Service for Prometheus: the collector scrapes
    # localhost:8080/metrics (its default) and writes to Cloud Monitoring as
    # the service account (roles/monitoring.metricWriter).
    containers {
      name       = "collector"
      image      = var.gmp_sidecar_image
      depends_on = ["shp"]

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle = false
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.shp,
    google_secret_manager_secret_iam_member.metadata_dsn,
    google_secret_manager_secret_iam_member.teams_webhook,
    google_secret_manager_secret_version.metadata_dsn,
    google_secret_manager_secret_version.teams_webhook,
    google_sql_database.metadata,
    google_sql_user.shp,
  ]
}
