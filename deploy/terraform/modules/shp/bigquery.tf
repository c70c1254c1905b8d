# The targets' dataset (warehouse.dataset) and shp's own (warehouse.shp_dataset):
# the load ledger, quality results, rows set aside and staging tables. shp
# creates neither, since it has roles on these two datasets only.

resource "google_bigquery_dataset" "targets" {
  project                    = var.project_id
  dataset_id                 = var.dataset_id
  friendly_name              = "shp targets"
  description                = "The tables shp loads, and their __quarantine tables."
  location                   = var.location
  delete_contents_on_destroy = false
  labels                     = local.labels

  depends_on = [google_project_service.apis]
}

resource "google_bigquery_dataset" "shp" {
  project                    = var.project_id
  dataset_id                 = var.shp_dataset_id
  friendly_name              = "shp internal"
  description                = "shp's own tables: the load ledger, quality results, rows set aside, repairs' originals, staging tables."
  location                   = var.location
  delete_contents_on_destroy = false
  labels                     = local.labels

  depends_on = [google_project_service.apis]
}
