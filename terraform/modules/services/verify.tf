# A release that ECS rolled back must fail. With the deployment circuit breaker, a release whose
# tasks never turn healthy is rolled back to the previous task definition, and the service's
# steady-state wait then succeeds, so the apply alone would report success while the old version
# runs. Reading each service back after the apply and comparing the task definition it runs with
# the one this apply registered turns that rollback into a failed apply.
data "aws_ecs_service" "deployed" {
  # Without the wait the services are still rolling when this would read them.
  for_each = { for role in keys(local.roles) : role => role if var.wait_for_steady_state }

  cluster_arn  = aws_ecs_cluster.this.arn
  service_name = aws_ecs_service.role[each.key].name

  lifecycle {
    postcondition {
      condition     = self.task_definition == aws_ecs_task_definition.role[each.key].arn
      error_message = "The ${each.key} service runs ${self.task_definition}, not the planned ${aws_ecs_task_definition.role[each.key].arn}: ECS rolled the release back (see the service's events and the ${var.name}-deployment-failed alarm)."
    }
  }
}
