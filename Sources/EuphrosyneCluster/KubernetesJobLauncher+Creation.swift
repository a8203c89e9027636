import EuphrosyneCore
import EuphrosyneKubernetes
import EuphrosynePorts
import Foundation

// Creating a run's objects in the cluster: its data ConfigMap (the diagnosis' one shared by its debugging runs), the
// result-key Secret beside it, and the Job. The objects themselves are built in KubernetesJobLauncher+Objects.swift.
extension KubernetesJobLauncher {
    struct LaunchFailure: Error {
        var reason: String
    }

    /// Creates the run's data ConfigMap (or reuses the diagnosis' one) and its Job, through the shield: creation is
    /// not cut short by the run's cancellation, because a Job the server stored must be known, so that a stop
    /// deletes it and a shutdown leaves it to the next reconciler, instead of being orphaned mid-request.
    func createObjects(for request: LaunchRequest) async -> Result<Job, LaunchFailure> {
        await shield.perform {
            let data: ConfigMap
            do {
                data = try await self.dataConfigMap(for: request)
            } catch {
                return .failure(LaunchFailure(reason: "cannot create the data ConfigMap: \(error)"))
            }
            do {
                return .success(try await self.createJob(self.job(for: request, data: data), for: request))
            } catch {
                return .failure(LaunchFailure(reason: "cannot create the Job: \(error)"))
            }
        }
    }

    /// Creates the data ConfigMap of an action run, or creates (once) and reuses the diagnosis' one; each with its
    /// result-key Secret.
    private func dataConfigMap(for request: LaunchRequest) async throws -> ConfigMap {
        let client = self.client
        let namespace = settings.namespace
        guard request.run.kind == .debugging else {
            return try await Self.createData(for: request, client: client, namespace: namespace)
        }
        return try await diagnosisData.value(for: request.incidentID) {
            try await Self.createData(for: request, client: client, namespace: namespace)
        }
    }

    /// Creates a data ConfigMap and then, named after it and owned by it, its result-key Secret. A Secret whose
    /// creation timed out may have been stored: creating it again then answers 409, which is success here (the
    /// name is the fresh ConfigMap's, so nobody else's). If the Secret cannot be made, the launch fails; the
    /// ConfigMap is left to the clean-up.
    private static func createData(
        for request: LaunchRequest, client: KubernetesClient, namespace: String
    ) async throws -> ConfigMap {
        let data = try await client.create(dataConfigMap(for: request), namespace: namespace)
        guard let secret = resultKeySecret(for: request, data: data) else { return data }
        do throws(KubernetesError) {
            _ = try await client.create(secret, namespace: namespace)
        } catch {
            guard error.code == .transport else { throw error }
            do throws(KubernetesError) {
                _ = try await client.create(secret, namespace: namespace)
            } catch {
                guard error.isAlreadyExists else { throw error }
            }
        }
        return data
    }

    /// Creates the Job. After a failure that may have happened after the server stored it (a timeout), looks for
    /// the run's Job first, so a run never gets two.
    private func createJob(_ job: Job, for request: LaunchRequest) async throws(KubernetesError) -> Job {
        do {
            return try await client.create(job, namespace: settings.namespace)
        } catch {
            guard error.code == .transport else { throw error }
            let selector = "uuid=\(request.incidentID.uuidString.lowercased()),euphrosyne.io/run=\(request.run.id)"
            if let existing = try await client.list(Job.self, namespace: settings.namespace, labelSelector: selector).items.first {
                return existing
            }
            return try await client.create(job, namespace: settings.namespace)
        }
    }
}
