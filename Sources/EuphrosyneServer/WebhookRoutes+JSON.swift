import EuphrosyneSupport

// The webhook's answers as JSON written by hand, byte for byte what `JSONResponse`'s encoder writes (sorted keys,
// slashes not escaped), without a `JSONEncoder` per request on the hottest route.

extension WebhookRoutes.Received {
    /// This answer as `JSONResponse.make` would encode it.
    var json: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(160)
        output.append(contentsOf: Array(#"{"new":"#.utf8))
        output.append(contentsOf: Array((new ? "true" : "false").utf8))
        output.append(contentsOf: Array(#","outcome":"#.utf8))
        JSONStringLiteral.append(outcome, to: &output)
        if let reason {
            output.append(contentsOf: Array(#","reason":"#.utf8))
            JSONStringLiteral.append(reason, to: &output)
        }
        output.append(contentsOf: Array(#","recipes":["#.utf8))
        for (index, recipe) in recipes.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            JSONStringLiteral.append(recipe, to: &output)
        }
        output.append(UInt8(ascii: "]"))
        if let state {
            output.append(contentsOf: Array(#","state":"#.utf8))
            JSONStringLiteral.append(state, to: &output)
        }
        if let uuid {
            output.append(contentsOf: Array(#","uuid":"#.utf8))
            JSONStringLiteral.append(uuid, to: &output)
        }
        output.append(UInt8(ascii: "}"))
        return output
    }
}
