package org.peft4j.tribuo.sgd;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tribuo.ImmutableFeatureMap;
import org.tribuo.ImmutableOutputInfo;
import org.tribuo.Model;
import org.tribuo.MutableOutputInfo;
import org.tribuo.Output;
import org.tribuo.VariableInfo;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.math.la.DenseVector;

/**
 * A base linear model's weights laid out over a new domain, by name. Tribuo numbers features in
 * name order and labels in no fixed order, so the same feature or label can have another id in new
 * data; the alignment matches them by name, never by id.
 *
 * <p>The policy for data from a shifted domain (for a factorization machine, a feature's and an
 * output's factors follow the same rules as its linear weights):
 * <ul>
 *   <li>a feature the base never saw joins the feature map with a base weight of 0 (frozen), so
 *       the adapter alone learns its weight; with {@link NewFeatures#IGNORE} such features are
 *       dropped instead, as Tribuo drops unknown features at prediction time;</li>
 *   <li>an output (label or regression dimension) the base never saw gets a new row of weights,
 *       0 in the base, learned by the adapter;</li>
 *   <li>everything the base knew keeps its weight, under whatever id it now has.</li>
 * </ul>
 *
 * @param <T> the output type
 * @param features the feature map of the adapted model
 * @param outputs the output domain of the adapted model
 * @param baseWeights the base weights over that domain
 */
public record AlignedDomain<T extends Output<T>>(ImmutableFeatureMap features, ImmutableOutputInfo<T> outputs,
        SgdModelFamily.Weights baseWeights) implements Serializable {

    /** What to do with features the base model never saw. */
    public enum NewFeatures {
        /** Add them to the feature map; their weights start at 0 and are learned by the adapter. */
        LEARN,
        /** Drop them, keeping the base model's feature map. */
        IGNORE
    }

    /**
     * Lays {@code base}'s weights out over its own domain widened by {@code extraFeatures} (unless
     * ignored) and {@code extraOutputs}.
     */
    public static <T extends Output<T>> AlignedDomain<T> align(Model<T> base, SgdModelFamily<T> family,
            Collection<? extends VariableInfo> extraFeatures, Collection<T> extraOutputs, NewFeatures policy) {
        ImmutableFeatureMap baseFeatures = base.getFeatureIDMap();
        // a base feature that the new data has too is renamed to the data's own name string, so that
        // looking up the data's features (whose names are those strings) matches by identity
        Map<String, String> extraNames = new HashMap<>();
        extraFeatures.forEach(info -> extraNames.put(info.getName(), info.getName()));
        List<VariableInfo> infos = new ArrayList<>();
        for (VariableInfo info : baseFeatures) {
            String name = extraNames.get(info.getName());
            infos.add(name == null ? info : info.rename(name));
        }
        if (policy == NewFeatures.LEARN) {
            for (VariableInfo info : extraFeatures) {
                if (baseFeatures.get(info.getName()) == null) {
                    infos.add(info);
                }
            }
        }
        ImmutableFeatureMap features = new ImmutableFeatureMap(infos);

        ImmutableOutputInfo<T> baseOutputs = base.getOutputIDInfo();
        Map<String, Integer> baseRows = new HashMap<>();
        for (int id = 0; id < baseOutputs.size(); id++) {
            baseRows.put(family.dimensionName(baseOutputs, id), id);
        }
        MutableOutputInfo<T> widened = baseOutputs.generateMutableOutputInfo();
        for (T output : extraOutputs) {
            widened.observe(output);
        }
        ImmutableOutputInfo<T> outputs = widened.generateImmutableOutputInfo();

        SgdModelFamily.Weights old = family.weights(base);
        int featureCount = features.size();
        int factorCount = old.factors().length == 0 ? 0 : old.factors()[0].getDimension1Size();
        DenseMatrix linear = new DenseMatrix(outputs.size(), featureCount);
        DenseVector bias = new DenseVector(outputs.size());
        DenseMatrix[] factors = new DenseMatrix[old.factors().length == 0 ? 0 : outputs.size()];
        int[] oldColumn = new int[featureCount];
        for (int j = 0; j < featureCount; j++) {
            oldColumn[j] = baseFeatures.getID(features.get(j).getName());
        }
        for (int o = 0; o < outputs.size(); o++) {
            Integer row = baseRows.get(family.dimensionName(outputs, o));
            if (factors.length > 0) {
                factors[o] = new DenseMatrix(factorCount, featureCount);
            }
            if (row == null) {
                continue;
            }
            for (int j = 0; j < featureCount; j++) {
                if (oldColumn[j] >= 0) {
                    linear.set(o, j, old.linear().get(row, oldColumn[j]));
                    for (int k = 0; k < factorCount; k++) {
                        factors[o].set(k, j, old.factors()[row].get(k, oldColumn[j]));
                    }
                }
            }
            bias.set(o, old.bias().get(row));
        }
        SgdModelFamily.Weights weights = new SgdModelFamily.Weights(linear, bias, factors);
        return new AlignedDomain<>(features, outputs, weights);
    }
}
