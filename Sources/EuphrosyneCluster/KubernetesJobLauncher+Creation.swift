import EuphrosyneCore
import EuphrosyneKubernetes
import EuphrosynePorts
import Foundation

// Creating a run's objects in the cluster: its data ConfigMap (the diagnosis' one shared by its debugging runs), the
// result-key Secret beside it, and the Job. The objects themselves are built in KubernetesJobLauncher+Objects.swift.
extension KubernetesJobLauncher {
    struct LaunchFailure: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
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

    /// Creates a data ConfigMap and then, named after it and owned by it, its result-key Secret. Both names derive
    /// from the incident (and run), so a creation repeated by another replica or after a lost answer answers 409:
    /// the ConfigMap is then the one already there (if it is this incident's), and the Secret counts as made. If the
    /// Secret cannot be made, the launch fails; the ConfigMap is left to the clean-up.
    private static func createData(
        for request: LaunchRequest, client: KubernetesClient, namespace: String
    ) async throws -> ConfigMap {
        let wanted = dataConfigMap(for: request)
        let data = try await createOrFind(wanted, labelled: ["uuid"], client: client, namespace: namespace)
        guard let secret = resultKeySecret(for: request, data: data) else { return data }
        // Already there: made by an earlier attempt whose answer was lost, or by the replica that led before (the
        // name is this incident's ConfigMap's, so nobody else's). Not read back: the reconciler may not read Secrets.
        var result = await create(secret, client: client, namespace: namespace)
        if case .failure(let error) = result, error.code == .transport {
            result = await create(secret, client: client, namespace: namespace)
        }
        if case .failure(let error) = result, !error.isAlreadyExists { throw error }
        return data
    }

    /// Creates the Job, or finds the run's Job already there: created by a leader that stopped before it could
    /// record the run as started, or stored by the server before an answer that never came. A run never gets two.
    private func createJob(_ job: Job, for request: LaunchRequest) async throws -> Job {
        try await Self.createOrFind(job, labelled: ["uuid", "euphrosyne.io/run"], client: client,
                                    namespace: settings.namespace)
    }

    /// Creates `object`; when its name is taken (`409 AlreadyExists`), returns the object of that name if it carries
    /// the same values of `labels` (it is this incident's, this run's), and refuses otherwise, as it does an object
    /// being deleted. A creation that got no answer is tried once more, which then finds the first one.
    static func createOrFind<Object: KubernetesObject>(
        _ object: Object, labelled labels: [String], client: KubernetesClient, namespace: String
    ) async throws -> Object {
        let name = object.metadata.name ?? ""
        let failure: KubernetesError
        switch await create(object, client: client, namespace: namespace) {
        case .success(let created):
            return created
        case .failure(let error) where error.code == .transport:
            switch await create(object, client: client, namespace: namespace) {
            case .success(let created): return created
            case .failure(let again): failure = again
            }
        case .failure(let error):
            failure = error
        }
        guard failure.isAlreadyExists else { throw failure }
        let existing = try await client.get(Object.self, name: name, namespace: namespace)
        let mine = labels.allSatisfy { existing.metadata.labels?[$0] == object.metadata.labels?[$0] }
        guard mine else {
            let seen = labels.map { "\($0)=\(existing.metadata.labels?[$0] ?? "")" }.joined(separator: ", ")
            throw LaunchFailure(reason: "\(Object.resource.kind) \(namespace)/\(name) exists and belongs to another run (\(seen))")
        }
        guard existing.metadata.deletionTimestamp == nil else {
            throw LaunchFailure(reason: "\(Object.resource.kind) \(namespace)/\(name) is being deleted")
        }
        return existing
    }

    private static func create<Object: KubernetesObject>(
        _ object: Object, client: KubernetesClient, namespace: String
    ) async -> Result<Object, KubernetesError> {
        do {
            return .success(try await client.create(object, namespace: namespace))
        } catch {
            return .failure(error)
        }
    }
}
