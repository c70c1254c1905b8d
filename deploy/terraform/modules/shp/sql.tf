# The metadata store: Cloud SQL for PostgreSQL, shared by every shp serve and
# shp task run (runs, claims, healing actions, alerts, API keys).

resource "google_sql_database_instance" "metadata" {
  project             = var.project_id
  name                = "${var.name_prefix}-metadata"
  region              = var.region
  database_version    = var.sql_database_version
  deletion_protection = var.sql_deletion_protection

  settings {
    tier                        = var.sql_tier
    edition                     = "ENTERPRISE"
    availability_type           = var.sql_availability_type
    disk_type                   = "PD_SSD"
    disk_autoresize             = true
    deletion_protection_enabled = var.sql_deletion_protection
    user_labels                 = local.labels

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "01:00"

      backup_retention_settings {
        retained_backups = 7
      }
    }

    # No authorized networks: the service connects through the Cloud SQL
    # connector (IAM: roles/cloudsql.client) or, with sql_private_network,
    # over the VPC; either way encrypted.
    ip_configuration {
      ipv4_enabled    = !local.private_sql
      private_network = var.sql_private_network
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    maintenance_window {
      day          = 7
      hour         = 3
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled = true
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_sql_database" "metadata" {
  project  = var.project_id
  instance = google_sql_database_instance.metadata.name
  name     = var.sql_database_name

  # terraform destroy leaves the database (and its runs) to the instance.
  deletion_policy = "ABANDON"
}

# Letters and digits only: the DSN is key=value pairs, and 32 of them carry
# about 190 bits.
resource "random_password" "metadata" {
  length  = 32
  special = false
}

resource "google_sql_user" "shp" {
  project  = var.project_id
  instance = google_sql_database_instance.metadata.name
  name     = var.sql_user_name
  password = random_password.metadata.result

  # PostgreSQL refuses to drop a role that owns tables.
  deletion_policy = "ABANDON"
}

locals {
  # Through the Cloud SQL connector's Unix socket (/cloudsql/CONNECTION, which
  # the service mounts), or to the private IP over the VPC with TLS.
  sql_host    = local.private_sql ? google_sql_database_instance.metadata.private_ip_address : "/cloudsql/${google_sql_database_instance.metadata.connection_name}"
  sql_sslmode = local.private_sql ? "require" : "disable"
  metadata_dsn = join(" ", [
    "host=${local.sql_host}",
    "port=5432",
    "dbname=${google_sql_database.metadata.name}",
    "user=${google_sql_user.shp.name}",
    "password=${random_password.metadata.result}",
    "sslmode=${local.sql_sslmode}",
  ])
}
