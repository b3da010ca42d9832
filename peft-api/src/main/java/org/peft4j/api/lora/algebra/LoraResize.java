package org.peft4j.api.lora.algebra;

import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.math3.linear.MatrixUtils;
import org.apache.commons.math3.linear.RealMatrix;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.Tensor;

/**
 * Changes the rank of a LoRA adapter by a truncated SVD of each module's update ΔW = s·B·A: the
 * new factors B' = U_k √S_k and A' = √S_k Vᵀ_k give the best rank-k approximation of ΔW in the
 * Frobenius norm (Eckart-Young), off by exactly √(Σ of the dropped σ²). The SVD is computed from
 * the thin factors without forming ΔW, so it is exact at any layer size. The resized config has
 * r = lora_alpha = k (so s = 1, without rsLoRA) and no rank or alpha patterns; every other setting,
 * and every tensor that is not a LoRA matrix (a head in {@code modules_to_save}), is kept.
 */
public final class LoraResize {
    private LoraResize() {}

    /**
     * Returns {@code adapter} at rank {@code rank}. A module whose update has fewer than
     * {@code rank} singular values gets zero rows in A' and columns in B'.
     *
     * @throws IllegalArgumentException if the rank is not positive or the adapter is not a plain LoRA adapter
     */
    public static AdapterCheckpoint resize(AdapterCheckpoint adapter, int rank) {
        if (rank <= 0) {
            throw new IllegalArgumentException("the new rank must be positive, got " + rank);
        }
        LoraModules modules = LoraModules.of("adapter", adapter);
        Map<String, Tensor> out = new TreeMap<>(modules.others());
        modules.pairs().forEach((path, pair) -> {
            RealMatrix b = Matrices.toMatrix(pair.b(), LoraModules.bKey(path))
                    .scalarMultiply(modules.config().scalingFor(path));
            RealMatrix a = Matrices.toMatrix(pair.a(), LoraModules.aKey(path));
            RealMatrix[] factors = balancedFactors(LinearAlgebra.productSvd(b, a), rank);
            out.put(LoraModules.aKey(path), Matrices.toTensor(factors[0], pair.a().dtype()));
            out.put(LoraModules.bKey(path), Matrices.toTensor(factors[1], pair.b().dtype()));
        });
        LoraConfig c = modules.config();
        LoraConfig resized = LoraConfig.builder()
                .optR(rank)
                .optLoraAlpha(rank)
                .optLoraDropout(c.loraDropout())
                .setTargetModules(c.targetModules())
                .optExcludeModules(c.excludeModules())
                .optBias(c.bias())
                .optInitLoraWeights(c.initLoraWeights())
                .optModulesToSave(c.modulesToSave().toArray(new String[0]))
                .optTaskType(c.taskType())
                .optBaseModelNameOrPath(c.baseModelNameOrPath())
                .optInferenceMode(c.inferenceMode())
                .build();
        return new AdapterCheckpoint(resized, out, adapter.metadata());
    }

    /**
     * Splits the leading {@code rank} triplets into A' = √S Vᵀ [rank, in] and B' = U √S [out, rank],
     * zero-padded when fewer triplets exist: {A', B'}.
     */
    static RealMatrix[] balancedFactors(Factors f, int rank) {
        int k = Math.min(rank, f.s().length);
        double[] root = new double[k];
        for (int i = 0; i < k; i++) {
            root[i] = Math.sqrt(f.s()[i]);
        }
        RealMatrix sqrtS = MatrixUtils.createRealDiagonalMatrix(root);
        RealMatrix b = Matrices.firstColumns(f.u(), k).multiply(sqrtS);
        RealMatrix a = sqrtS.multiply(Matrices.firstRows(f.vt(), k));
        return new RealMatrix[] {Matrices.firstRows(a, rank), Matrices.firstColumns(b, rank)};
    }
}
